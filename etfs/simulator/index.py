"""The SSE Composite index (``secid=1.000001``) as the simulated host serves it.

Its only job here is the one the sync gives it: a bar on every session of the simulated
market (``etfs.simulator.sessions``), which is how the sync learns the trading calendar.
Levels are a deterministic walk around 3,000 points.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

from etfs.providers.base import BarRecord
from etfs.simulator import sessions
from etfs.simulator.formats import KLINE_ENVELOPE, _dumps, _parse_day, _wrap_jsonp, kline_line
from etfs.simulator.market import SimMarket

INDEX_SECID = "1.000001"
CENT = Decimal("0.01")


def index_bars(market: SimMarket) -> list[BarRecord]:
    """One bar per simulated session from the market's start to its today."""

    def compute() -> list[BarRecord]:
        rng = random.Random(f"{market.seed}/index")
        bars = []
        close = Decimal("3000.00")
        for day in sessions.trading_days(market.start, market.today):
            prev = close
            close = (prev * Decimal(str(1 + rng.gauss(0, 0.01)))).quantize(CENT, rounding=ROUND_HALF_UP)
            open_ = (prev * Decimal(str(1 + rng.gauss(0, 0.003)))).quantize(CENT, rounding=ROUND_HALF_UP)
            high = max(open_, close) + Decimal(rng.randint(0, 2000)) / 100
            low = min(open_, close) - Decimal(rng.randint(0, 2000)) / 100
            volume = rng.randint(200_000_000, 600_000_000) * 100
            bars.append(
                BarRecord(
                    day=day,
                    open=open_,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume,
                    amount=(Decimal(volume) * close / 1000).quantize(CENT),
                    prev_close=prev,
                    amplitude_pct=((high - low) / prev * 100).quantize(CENT, rounding=ROUND_HALF_UP),
                    change_pct=((close - prev) / prev * 100).quantize(CENT, rounding=ROUND_HALF_UP),
                    turnover_pct=Decimal("0.80"),
                )
            )
        return bars

    return market.cached_render(("index-bars",), compute)


def render_index_kline(market: SimMarket, query: dict[str, str]) -> str:
    """``stock/kline/get`` for the index, with ``beg``/``end``/``lmt`` as for any instrument."""
    bars = index_bars(market)
    days = [bar.day for bar in bars]
    lo = bisect.bisect_left(days, _parse_day(query.get("beg"), dt.date.min))
    hi = bisect.bisect_right(days, _parse_day(query.get("end"), dt.date.max))
    if query.get("lmt", "").isdigit() and int(query["lmt"]) > 0:
        lo = max(lo, hi - int(query["lmt"]))
    chosen = bars[lo:hi]
    data = {
        "code": "000001",
        "market": 1,
        "name": "上证指数",
        "decimal": 2,
        "dktotal": len(bars),
        "preKPrice": chosen[0].prev_close if chosen else Decimal("3000.00"),
        "klines": [kline_line(bar, 2) for bar in chosen],
    }
    return _wrap_jsonp(_dumps({**KLINE_ENVELOPE, "data": data}), query)
