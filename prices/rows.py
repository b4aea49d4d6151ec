"""Bars as served: one tuple of columns per bar, with the figures a quant expects beside the prices.

Every bar endpoint (one instrument, many symbols, a cross-section of one date) builds its
rows here, so the same bar reads the same everywhere. The columns (``prices.columns.COLUMNS``):

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
import itertools
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any, Unpack

from django.db import connection

from prices.adjustments import PriceAdjuster
from prices.api.writers import lines_of
from prices.columns import COLUMNS as COLUMNS  # re-exported: readers of rows import it from here
from prices.columns import JSON_STRINGS, PERIOD_START
from prices.columns import default_columns as default_columns  # re-exported, as COLUMNS
from prices.queries import (
    _TABLE,
    MIN_DATE,
    STORED_PRICE_QUANTUM,
    Bar,
    BarOwner,
    Series,
    Span,
    _days_where,
    _quantize,
    _segment_sql,
    _time_param,
    adjusted_price,
    decimal_places,
    fetch_bars,
    finite_sql,
    iter_bars,
    keyset_batches,
)

PERCENT = Decimal("0.0001")
HUNDRED = Decimal(100)
_PERIOD_START = itemgetter(PERIOD_START)


def percent_change(change: Decimal, pre_close: Decimal) -> Decimal | None:
    """``pct_chg``: ``change / pre_close × 100`` to 4 decimals, half up; none without a reference price."""
    return (change * HUNDRED / pre_close).quantize(PERCENT, ROUND_HALF_UP) if pre_close else None


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

    def _served(self, day: dt.date, raw_close: Any) -> Decimal | None:
        if raw_close is None:
            return None
        if self.raw:
            return _quantize(raw_close, self.adjuster.quantum)
        value = _quantize(raw_close, STORED_PRICE_QUANTUM)
        a, b = self.adjuster.factor(day)
        return None if value is None else adjusted_price(value, a, b, self.adjuster.quantum)

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
            if (
                raw
                and next_ex is not None
                and pre_close is not None
                and prev_day is not None
                and bar.period_start >= next_ex
            ):
                pre_close = self._reference(pre_close, prev_day, bar.period_start)
            if next_ex is not None and bar.date >= next_ex:
                segment = bisect.bisect_right(ex_dates, bar.date)
                next_ex = ex_dates[segment] if segment < len(ex_dates) else None
                if len(floats) > 1:
                    factor, offset = floats[segment]
            if pre_close is None or bar.close is None:
                change = pct_chg = None
            else:
                change = bar.close - pre_close
                pct_chg = percent_change(change, pre_close)
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


# --- Whole rows from PostgreSQL -------------------------------------------------------------------
# Daily bars on PostgreSQL/TimescaleDB are the hot path (pages of 1,000s of bars, full histories):
# the database computes every column with exact numeric arithmetic — the affine map of each
# bar's segment between ex-dates, rounding half up (round() rounds half away from zero, as
# ROUND_HALF_UP does), the previous close by a window over the range extended one bar back —
# and hands them over as decimal text, which the writers take as is. Python only fixes the
# rare raw bar whose previous bar lies before two ex-dates at once (the exchange's reference price).
# Each served column once, as SQL over the inner query's columns (NULL where Python has None): its
# value in a row tuple (``_VALUE_SQL``), and its text in a CSV line or JSON object (``_TEXT_SQL``).
# ``symbol``, ``adj_factor`` and ``adj_offset`` are constant per segment: Python's, sent as parameters.
_DAY = "(\"time\" AT TIME ZONE 'Asia/Shanghai')"
_DAY_TEXT = f"to_char({_DAY}, 'YYYY-MM-DD')"
_VALUE_SQL = {
    "date": f"{_DAY}::date",
    "period_start": f"{_DAY}::date",
    "open": "o",
    "high": "h",
    "low": "l",
    "close": "c::text",
    "pre_close": "ref::text",
    "change": "(c - ref)::text",
    "pct_chg": "round((c - ref)::numeric(60, 30) * 100 / NULLIF(ref, 0), 4)::text",
    "volume": "volume",
    "amount": "amount::text",
}
_TEXT_SQL = {**_VALUE_SQL, "date": _DAY_TEXT, "period_start": _DAY_TEXT, "volume": "volume::text"}
# A row tuple's columns from the database (``period_start`` is ``date``); then the segment and, only
# where Python takes the reference price (else NULL: no conversion per row), the previous close and day.
_TUPLE_COLUMNS = ("date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "volume", "amount")
_TUPLE_SELECT = (
    ", ".join(_VALUE_SQL[name] for name in _TUPLE_COLUMNS)
    + ", seg, CASE WHEN {python} THEN pre::text END"
    + ", CASE WHEN {python} THEN (pre_time AT TIME ZONE 'Asia/Shanghai')::date END"
)
_ROWS_SQL = """
SELECT {select}
FROM (
SELECT w.*, {reference} AS ref
FROM (
    SELECT "time", seg, round(open * a + b, {scale})::text AS o, round(high * a + b, {scale})::text AS h,
           round(low * a + b, {scale})::text AS l, round(close * a + b, {scale}) AS c, volume, amount,
           lag(round(close * a + b, {scale})) OVER win AS pre, lag(seg) OVER win AS pre_seg,
           lag("time") OVER win AS pre_time
    FROM (
        SELECT "time", {open} AS open, {high} AS high, {low} AS low, {close} AS close, volume, {amount} AS amount,
               {segment} AS seg, {factor} AS a, {offset} AS b
        FROM {table}
        WHERE {where}
        ORDER BY "time"
        LIMIT %s
    ) bars
    WINDOW win AS (ORDER BY "time")
) w
) rows
WHERE "time" >= %s
ORDER BY "time"
LIMIT %s
"""


def _map_sql(ex_dates: list[dt.date], values: list[Decimal]) -> tuple[str, list[Any]]:
    """SQL choosing ``values[i]`` for a bar in segment ``i`` (between ex-dates)."""
    if not ex_dates:
        return "%s::numeric", [values[0]]
    whens = " ".join('WHEN "time" < %s THEN %s::numeric' for _ in ex_dates)
    params: list[Any] = []
    for day, value in zip(ex_dates, values, strict=False):
        params += [_time_param(day), value]
    return f"CASE {whens} ELSE %s::numeric END", [*params, values[-1]]


def _python_reference_sql(adjuster: PriceAdjuster) -> str:
    """SQL telling a bar whose ``pre_close`` Python computes: a raw bar after two or more ex-dates at
    once (``_reference_sql`` leaves it NULL)."""
    return "seg - pre_seg > 1" if adjuster.adjust == "none" and adjuster.actions else "false"


def _sql_rows(series: Series, limit: int) -> list[tuple]:
    """``history_rows`` of daily bars, every column computed by the database (see above)."""
    maker = RowMaker(series.instrument.symbol, series.adjuster)
    floats, symbol = maker.floats, maker.symbol
    select = _TUPLE_SELECT.format(python=_python_reference_sql(series.adjuster))
    rows: list[tuple] = []
    append = rows.append
    for day, o, h, low, c, pre, change, pct, volume, amount, seg, raw_pre, pre_day in _run_rows_sql(
        series, limit, select, []
    ):
        if raw_pre is not None:
            pre = maker._reference(Decimal(raw_pre), pre_day, day)
            change = Decimal(c) - pre
            pct = percent_change(change, pre)
        factor, offset = floats[seg] if len(floats) > 1 else floats[0]
        append((symbol, day, day, o, h, low, c, pre, change, pct, volume, amount, factor, offset))
    return rows


def _line_sql(adjuster: PriceAdjuster, symbol: str, columns: tuple[str, ...], fmt: str) -> tuple[str, list[Any]]:
    """SQL building one answer line per bar — a CSV line or a JSON object — exactly as the writers would."""
    floats = RowMaker(symbol, adjuster).floats
    parts: list[str] = []
    params: list[Any] = []
    values: list[Any]
    for name in columns:
        if name == "symbol":
            expression, values = "%s", [symbol]
        elif name in ("adj_factor", "adj_offset"):
            texts = [str(pair[0 if name == "adj_factor" else 1]) for pair in floats]
            if len(texts) == 1:
                expression, values = "%s", texts
            else:
                expression = "CASE seg " + " ".join("WHEN %s THEN %s" for _ in texts) + " END"
                values = [v for i, text in enumerate(texts) for v in (i, text)]
        else:
            expression, values = _TEXT_SQL[name], []
        if fmt == "csv":
            parts.append(f"coalesce({expression}, '')")
        elif name in JSON_STRINGS:
            parts.append(f"'\"{name}\":\"' || {expression} || '\"'")
        else:
            parts.append(f"'\"{name}\":' || coalesce({expression}, 'null')")
        params += values
    line = "concat_ws(',', " + ", ".join(parts) + ")"
    if fmt == "json":
        line = "'{' || " + line + " || '}'"
    # Third column: a raw bar whose reference price Python computes.
    return f"{line}, {_DAY}::date, {_python_reference_sql(adjuster)}", params


def _lines(series: Series, limit: int, columns: tuple[str, ...], fmt: str) -> list[tuple[str, dt.date]]:
    """``history_lines`` of one series."""
    select, select_params = _line_sql(series.adjuster, series.instrument.symbol, columns, fmt)
    fetched = _run_rows_sql(series, limit, select, select_params)
    if any(python for _line, _day, python in fetched):
        rows = _python_rows(series, limit)
        return list(zip(lines_of(rows, columns, fmt), map(_PERIOD_START, rows), strict=True))
    return [(line, day) for line, day, _python in fetched]


def _reference_sql(adjuster: PriceAdjuster) -> tuple[str, list[Any]]:
    """SQL for ``pre_close``: the previous close, and for raw bars after one ex-date the exchange's
    reference price ``round((pre - cash) / ratio)``; NULL after two or more (Python takes those)."""
    if adjuster.adjust != "none" or not adjuster.actions:
        return "pre", []
    scale = decimal_places(adjuster.quantum)
    whens = " ".join(
        f"WHEN %s THEN round((pre - %s::numeric)::numeric(60, 30) / %s::numeric, {scale})" for _ in adjuster.actions
    )
    params: list[Any] = []
    for index, action in enumerate(adjuster.actions):
        params += [index, action.cash, action.split_ratio]
    sql = (
        f"CASE WHEN pre_seg IS NULL OR seg = pre_seg THEN pre WHEN seg - pre_seg = 1 THEN CASE pre_seg {whens} END END"
    )
    return sql, params


def _run_rows_sql(series: Series, limit: int, select: str, select_params: list[Any]) -> list[tuple]:
    """``_ROWS_SQL`` over at most ``limit`` daily bars of ``series``, selecting ``select``."""
    instrument, adjuster, start = series.instrument, series.adjuster, series.start
    segment, segment_params = _segment_sql(adjuster.ex_dates)
    if adjuster.adjust == "none":
        maps = [(Decimal(1), Decimal(0))] * (len(adjuster.ex_dates) + 1)
    else:
        maps = [adjuster.factor(day) for day in [dt.date.min, *adjuster.ex_dates]]
    factor, factor_params = _map_sql(adjuster.ex_dates, [a for a, _ in maps])
    offset, offset_params = _map_sql(adjuster.ex_dates, [b for _, b in maps])
    first = _time_param(start or MIN_DATE)
    lower, lower_params = "%s", [first]
    if start is not None:  # one bar more, before start: the first bar's previous close
        lower = f'COALESCE((SELECT max("time") FROM {_TABLE} WHERE instrument_id = %s AND "time" < %s), %s)'
        lower_params = [instrument.pk, first, first]
    where, where_params = _days_where(instrument.pk, None, series.end)
    where.append(f'"time" >= {lower}')
    reference, reference_params = _reference_sql(adjuster)
    sql = _ROWS_SQL.format(
        **{name: finite_sql(name) for name in ("open", "high", "low", "close", "amount")},
        select=select,
        reference=reference,
        segment=segment,
        factor=factor,
        offset=offset,
        table=_TABLE,
        where=" AND ".join(where),
        scale=decimal_places(adjuster.quantum),
    )
    params = [
        *select_params,
        *reference_params,
        *segment_params,
        *factor_params,
        *offset_params,
        *where_params,
        *lower_params,
        limit + 1,
        first,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _python_rows(series: Series, limit: int) -> list[tuple]:
    """``history_rows`` computed in Python (every backend, every interval)."""
    bars = fetch_bars(series, limit)
    if not bars:
        return []
    return list(RowMaker(series.instrument.symbol, series.adjuster).rows(bars, series.previous(bars[0].period_start)))


def _uses_sql_rows(series: Series) -> bool:
    """Adjusted daily bars on PostgreSQL: the database's numeric maths beats Python's Decimals.

    Raw daily bars stay in Python (the database still rounds and hands over text, see
    ``prices.queries._daily_bars``): there the window and casts cost PostgreSQL more than
    they save Python (CPU per request measured with ``bench/api_load.py``).
    """
    return series.adjuster.adjust != "none" and lines_apply(series.adjuster, series.interval)


def lines_apply(adjuster: PriceAdjuster, interval: str) -> bool:
    """Whether ``history_lines`` serves this series: daily bars on PostgreSQL/TimescaleDB."""
    return interval == "1d" and connection.vendor == "postgresql"


# --- What the API calls ---------------------------------------------------------------------------
# One instrument's ``instrument``, ``adjuster`` and ``Span`` (``start``, ``end``, ``interval``, by
# keyword) make the ``Series`` every function above takes; a page (``limit``) or the whole range in
# batches (``batch_size``, ``keyset_batches``), as row tuples or as finished lines.


def history_rows(instrument: BarOwner, adjuster: PriceAdjuster, *, limit: int, **span: Unpack[Span]) -> list[tuple]:
    """At most ``limit`` rows of one instrument from ``start`` (a bar's ``period_start``) on, oldest first."""
    series = Series(instrument, adjuster, **span)
    return _sql_rows(series, limit) if _uses_sql_rows(series) else _python_rows(series, limit)


def iter_history_rows(
    instrument: BarOwner, adjuster: PriceAdjuster, *, batch_size: int, **span: Unpack[Span]
) -> Iterator[tuple]:
    """Every row of the range, read ``batch_size`` bars at a time (keyset on the date), memory bounded."""
    series = Series(instrument, adjuster, **span)
    if _uses_sql_rows(series):
        pages = keyset_batches(
            lambda first, limit: _sql_rows(series.starting(first), limit), series.start, batch_size, _PERIOD_START
        )
        for page in pages:
            yield from page
        return
    bars = iter_bars(series, batch_size)
    first = next(bars, None)
    if first is None:
        return
    previous = series.previous(first.period_start)
    yield from RowMaker(instrument.symbol, adjuster).rows(itertools.chain([first], bars), previous)


def history_lines(
    instrument: BarOwner,
    adjuster: PriceAdjuster,
    *,
    limit: int,
    columns: tuple[str, ...],
    fmt: str,
    **span: Unpack[Span],
) -> list[tuple[str, dt.date]]:
    """At most ``limit`` bars as finished CSV lines or JSON objects with their dates (``lines_apply``).

    The database computes every column and writes the line; Python only joins them. A page
    holding a raw bar after two ex-dates at once (a suspension over both; rare) is built from
    ``history_rows`` and the writers instead, which give the same text.
    """
    return _lines(Series(instrument, adjuster, **span), limit, columns, fmt)


def iter_history_lines(
    instrument: BarOwner,
    adjuster: PriceAdjuster,
    *,
    batch_size: int,
    columns: tuple[str, ...],
    fmt: str,
    **span: Unpack[Span],
) -> Iterator[list[str]] | None:
    """Batches of finished lines of the whole range (see ``history_lines``), or ``None``."""
    series = Series(instrument, adjuster, **span)
    if fmt not in ("csv", "json") or not lines_apply(adjuster, series.interval):
        return None
    pages = keyset_batches(
        lambda first, limit: _lines(series.starting(first), limit, columns, fmt), series.start, batch_size, _day
    )
    return ([line for line, _day in page] for page in pages)


def _day(line: tuple[str, dt.date]) -> dt.date:
    return line[1]
