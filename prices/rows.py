"""Bars as served: one tuple of columns per bar, with the figures a quant expects beside the prices.

Every bar endpoint (one instrument, many symbols, a cross-section of one date) builds its
rows here, so the same bar reads the same everywhere. The columns (``COLUMNS``):

- ``pre_close``: the previous close **in the series asked for**. Adjusted (qfq/hfq): the
  previous bar's adjusted close. Raw: the exchange's reference price — the previous close
  with the distributions and splits between the two bars taken out, ``(close - cash) / ratio``
  (Tushare's and East Money's ``pre_close``), so ``pct_chg`` is the holder's return on an
  ex-day, not the drop of the quote. A weekly/monthly bar's ``pre_close`` is that of its
  first day. Empty for an instrument's first bar.
- ``change`` = ``close - pre_close``; ``pct_chg`` = ``change / pre_close × 100`` (percent,
  4 decimals), both in the series asked for.
- ``adj_factor`` and ``adj_offset``: the map of the bar's day (for 1w/1M: its last day)
  from raw to the series asked for, ``adjusted = round(raw × adj_factor + adj_offset)`` to the
  quoted precision. Splits are multiplicative and land in ``adj_factor``; cash distributions
  are additive (East Money's semantics, ``prices/adjustments.py``) and land in ``adj_offset``.
  Where an instrument only ever split, ``adj_offset`` is 0 and ``price × adj_factor``
  reproduces the adjusted series. Raw series: 1 and 0.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from prices.adjustments import PriceAdjuster
from prices.queries import Bar

COLUMNS = (
    "symbol",
    "date",
    "period_start",
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "pct_chg",
    "volume",
    "amount",
    "adj_factor",
    "adj_offset",
)
# Columns only some answers have: `symbol` on multi-instrument answers, `period_start` on 1w/1M.
DAILY_COLUMNS = tuple(c for c in COLUMNS if c not in ("symbol", "period_start"))
PERCENT = Decimal("0.0001")
HUNDRED = Decimal(100)


def default_columns(*, with_symbol: bool, interval: str) -> tuple[str, ...]:
    return tuple(c for c in COLUMNS if (c != "symbol" or with_symbol) and (c != "period_start" or interval != "1d"))


class RowMaker:
    """Turns one instrument's bars, oldest first, into ``COLUMNS`` tuples.

    ``previous`` is ``(date, raw close)`` of the stored bar before the first one (``None``
    when there is none), from ``prices.queries.previous_close``.
    """

    def __init__(self, symbol: str, adjuster: PriceAdjuster) -> None:
        self.symbol = symbol
        self.adjuster = adjuster
        self.raw = adjuster.adjust == "none"
        maps = [adjuster.factor(day) for day in [dt.date.min, *adjuster.ex_dates]] if not self.raw else []
        # Per segment between ex-dates: (adj_factor, adj_offset) as floats, computed once.
        self.floats = [(float(a), float(b)) for a, b in maps] or [(1.0, 0.0)]

    def _served(self, day: dt.date, raw_close: Any) -> Decimal:
        from prices.queries import STORED_PRICE_QUANTUM, _quantize

        if self.raw:
            return _quantize(raw_close, self.adjuster.quantum)
        return self.adjuster.price(day, _quantize(raw_close, STORED_PRICE_QUANTUM))

    def _reference(self, close: Decimal, after: dt.date, upto: dt.date) -> Decimal:
        """A raw close with the actions of ``(after, upto]`` taken out: the exchange's reference price."""
        for action in self.adjuster.actions:
            if after < action.ex_date <= upto:
                close = (close - action.cash) / action.split_ratio
        return close.quantize(self.adjuster.quantum, rounding=ROUND_HALF_UP)

    def rows(self, bars: Iterable[Bar], previous: tuple[dt.date, Any] | None) -> Iterator[tuple]:
        symbol, raw, floats, adjuster = self.symbol, self.raw, self.floats, self.adjuster
        ex_dates = adjuster.ex_dates
        if previous is None:
            prev_day, prev_close = None, None
        else:
            prev_day, prev_close = previous[0], self._served(*previous)
        # The segment (between ex-dates) of the previous bar and the next ex-date after it,
        # followed incrementally: bars come oldest first.
        segment = bisect.bisect_right(ex_dates, prev_day) if prev_day is not None else 0
        next_ex = ex_dates[segment] if segment < len(ex_dates) else None
        factor, offset = floats[segment] if len(floats) > 1 else floats[0]
        for bar in bars:
            pre_close = prev_close
            if raw and next_ex is not None and pre_close is not None and bar.period_start >= next_ex:
                pre_close = self._reference(pre_close, prev_day, bar.period_start)
            if next_ex is not None and bar.date >= next_ex:
                segment = bisect.bisect_right(ex_dates, bar.date)
                next_ex = ex_dates[segment] if segment < len(ex_dates) else None
                if len(floats) > 1:
                    factor, offset = floats[segment]
            if pre_close is None:
                change = pct_chg = None
            else:
                change = bar.close - pre_close
                pct_chg = (change * HUNDRED / pre_close).quantize(PERCENT, ROUND_HALF_UP) if pre_close else None
            yield (
                symbol,
                bar.date,
                bar.period_start,
                bar.open,
                bar.high,
                bar.low,
                bar.close,
                pre_close,
                change,
                pct_chg,
                bar.volume,
                bar.amount,
                factor,
                offset,
            )
            prev_day, prev_close = bar.date, bar.close
