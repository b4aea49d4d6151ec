"""Tencent's daily bars (``fqkline/get``): the stand-in when East Money refuses.

One request returns at most ~640 rows, so history is fetched a calendar year per request.
Rows are ``[date, open, close, high, low, volume, {dividend note}, turnover %, amount in
10,000 CNY]``; volume is in lots except on the STAR market (688/689: shares). Tencent has
no instrument list, and reports no ``change``, so its bars carry no ex-reference close.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from etfs.calendar import SHANGHAI
from etfs.providers.base import (
    Adjust,
    BarRecord,
    BarSeries,
    InstrumentKind,
    ListingRecord,
    MarketDataProvider,
    RequestStats,
    wire_decimal,
    wire_decimals,
)
from etfs.providers.errors import BadPayload, NotSupported, UnknownInstrument
from etfs.providers.http import ClientOptions, HostClients
from etfs.providers.jsonp import load_object
from etfs.symbols import Symbol, classify_code

logger = logging.getLogger(__name__)

MAX_ROWS = 640
EARLIEST_YEAR = 1990
ROW_KEYS = {Adjust.NONE: "day", Adjust.QFQ: "qfqday", Adjust.HFQ: "hfqday"}
ADJUST_PARAM = {Adjust.NONE: "", Adjust.QFQ: "qfq", Adjust.HFQ: "hfq"}


def decimals_for(symbol: Symbol) -> int:
    """Funds quote 0.001 CNY, stocks 0.01 CNY."""
    return 2 if classify_code(symbol.code, symbol.exchange) == "stock" else 3


def parse_tencent_bars(text: str, symbol: Symbol, adjust: Adjust) -> list[BarRecord]:
    """The rows of one ``fqkline`` response (bare JSON or ``_var=`` assignment)."""
    payload = load_object(text)
    if str(payload.get("code", "0")) != "0":
        raise BadPayload(f"Tencent answered code={payload.get('code')!r} msg={payload.get('msg')!r}")
    data = payload.get("data")
    entry = data.get(symbol.prefixed) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise UnknownInstrument(f"Tencent has no instrument {symbol.prefixed}")
    rows = entry.get(ROW_KEYS[adjust])
    if rows is None:
        rows = entry.get("day") or []
    decimals = decimals_for(symbol)
    in_shares = symbol.code.startswith(("688", "689"))
    bars = []
    for row in rows:
        bar = _parse_row(row, decimals, in_shares=in_shares)
        if bar is None:
            logger.warning("%s: skipped a Tencent row without a full bar: %r", symbol, row)
            continue
        bars.append(bar)
    return bars


def _parse_row(row: Any, decimals: int, *, in_shares: bool) -> BarRecord | None:
    if not isinstance(row, list) or len(row) < 6:
        raise BadPayload(f"Tencent row is not [date, open, close, high, low, volume, ...]: {row!r:.120}")
    try:
        day = dt.date.fromisoformat(str(row[0]))
    except ValueError:
        raise BadPayload(f"bad Tencent date {row[0]!r}") from None
    quantum = Decimal(1).scaleb(-decimals)
    values = wire_decimals(row[1:6])
    if values is None:
        return None
    open_, close, high, low, volume = values
    amount = wire_decimal(row[8]) if len(row) >= 9 and not isinstance(row[8], dict) else None
    if amount is None:
        # The short row form has no amount: store it as unknown, never as a made-up 0.
        logger.warning("Tencent row for %s has no amount; storing it empty", day)
    else:
        amount = (amount * 10000).quantize(Decimal("0.01"))
    return BarRecord(
        day=day,
        open=open_.quantize(quantum, rounding=ROUND_HALF_UP),
        high=high.quantize(quantum, rounding=ROUND_HALF_UP),
        low=low.quantize(quantum, rounding=ROUND_HALF_UP),
        close=close.quantize(quantum, rounding=ROUND_HALF_UP),
        volume=int(volume) if in_shares else int(volume * 100),
        amount=amount,
        turnover_pct=wire_decimal(row[7]) if len(row) >= 8 and not isinstance(row[7], dict) else None,
    )


class TencentProvider(MarketDataProvider):
    """Daily bars only, a year per request; the fallback behind East Money."""

    name = "tencent"
    supports_listing = False

    def __init__(self, kline_url: str | None = None, options: ClientOptions | None = None) -> None:
        self.kline_url = kline_url or settings.MARKETDATA["TENCENT_KLINE_URL"]
        self.clients = HostClients(options, headers={"Referer": "https://gu.qq.com/"})
        self.stats: RequestStats = self.clients.stats

    def close(self) -> None:
        self.clients.close()

    def list_instruments(
        self, kind: InstrumentKind, exchanges: Iterable[str] = ("SH", "SZ", "BJ")
    ) -> Iterator[ListingRecord]:
        raise NotSupported(
            "Tencent has no instrument list; list instruments with East Money", host=urlsplit(self.kline_url).netloc
        )

    def fetch_daily_bars(
        self,
        symbol: Symbol,
        start: dt.date | None = None,
        end: dt.date | None = None,
        adjust: Adjust = Adjust.NONE,
    ) -> BarSeries:
        """Year by year; with no ``start``, walks back from ``end`` until a year has no bars."""
        adjust = Adjust(adjust)
        last = end or dt.datetime.now(SHANGHAI).date()
        bars: list[BarRecord] = []
        if start is not None:
            for year in range(start.year, last.year + 1):
                bars.extend(self._year(symbol, year, start, last, adjust))
        else:
            for year in range(last.year, EARLIEST_YEAR - 1, -1):
                chunk = self._year(symbol, year, None, last, adjust)
                if not chunk and bars:
                    break
                bars[:0] = chunk
        return BarSeries(symbol, adjust, bars, decimals_for(symbol), provider=self.name)

    def _year(self, symbol: Symbol, year: int, start: dt.date | None, end: dt.date, adjust: Adjust) -> list[BarRecord]:
        first = max(start, dt.date(year, 1, 1)) if start else dt.date(year, 1, 1)
        last = min(end, dt.date(year, 12, 31))
        param = f"{symbol.prefixed},day,{first.isoformat()},{last.isoformat()},{MAX_ROWS},{ADJUST_PARAM[adjust]}"
        bars = self.clients.get(
            self.kline_url,
            {"param": param},
            parse=lambda text: parse_tencent_bars(text, symbol, adjust),
            symbol=symbol.canonical,
        )
        return [bar for bar in bars if first <= bar.day <= last]
