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
import itertools
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from prices.adjustments import PriceAdjuster
from prices.api.writers import lines_of
from prices.columns import COLUMNS
from prices.queries import (
    _TABLE,
    MIN_DATE,
    STORED_PRICE_QUANTUM,
    Bar,
    _quantize,
    _segment_sql,
    _time_param,
    adjusted_price,
    decimal_places,
    fetch_bars,
    finite_sql,
    iter_bars,
    previous_close,
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


# --- Whole rows from PostgreSQL -------------------------------------------------------------------
# Daily bars on PostgreSQL/TimescaleDB are the hot path (pages of 1,000s of bars, full histories):
# the database computes every column with exact numeric arithmetic — the affine map of each
# bar's segment between ex-dates, rounding half up (round() rounds half away from zero, as
# ROUND_HALF_UP does), the previous close by a window over the range extended one bar back —
# and hands them over as decimal text, which the writers take as is. Python only fixes the
# rare raw bar whose previous bar lies before an ex-date (the exchange's reference price).
# Every served column as SQL text over the inner query's columns (NULL where Python has None).
_COLUMN_SQL = {
    "date": "to_char(\"time\" AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
    "period_start": "to_char(\"time\" AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
    "open": "o",
    "high": "h",
    "low": "l",
    "close": "c::text",
    "pre_close": "ref::text",
    "change": "(c - ref)::text",
    "pct_chg": "round((c - ref)::numeric(60, 30) * 100 / NULLIF(ref, 0), 4)::text",
    "volume": "volume::text",
    "amount": "amount::text",
}
_TUPLE_SELECT = (
    "(\"time\" AT TIME ZONE 'Asia/Shanghai')::date, o, h, l, c::text, pre::text, (c - pre)::text, "
    "round((c - pre)::numeric(60, 30) * 100 / NULLIF(pre, 0), 4)::text"
    ", volume, amount::text, seg, pre_seg, (pre_time AT TIME ZONE 'Asia/Shanghai')::date"
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
        WHERE instrument_id = %s AND "time" >= {lower} {upper}
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


def _daily_rows_postgres(
    instrument: Any, adjuster: PriceAdjuster, start: dt.date | None, end: dt.date | None, limit: int
) -> list[tuple]:
    fetched = _run_rows_sql(instrument, adjuster, start, end, limit, _TUPLE_SELECT, [])
    raw = adjuster.adjust == "none"
    maker = RowMaker(instrument.symbol, adjuster)
    floats, symbol = maker.floats, instrument.symbol
    rows: list[tuple] = []
    append = rows.append
    for day, o, h, low, c, pre, change, pct, volume, amount, seg, pre_seg, pre_day in fetched:
        if raw and pre is not None and seg != pre_seg:
            reference = maker._reference(Decimal(pre), pre_day, day)
            close = Decimal(c)
            pre, change = reference, close - reference
            pct = (change * HUNDRED / reference).quantize(PERCENT, ROUND_HALF_UP) if reference else None
        factor_value, offset_value = floats[seg] if len(floats) > 1 else floats[0]
        append((symbol, day, day, o, h, low, c, pre, change, pct, volume, amount, factor_value, offset_value))
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
            expression, values = _COLUMN_SQL[name], []
        if fmt == "csv":
            parts.append(f"coalesce({expression}, '')")
        elif name in ("symbol", "date", "period_start"):
            parts.append(f"'\"{name}\":\"' || {expression} || '\"'")
        else:
            parts.append(f"'\"{name}\":' || coalesce({expression}, 'null')")
        params += values
    line = "concat_ws(',', " + ", ".join(parts) + ")"
    if fmt == "json":
        line = "'{' || " + line + " || '}'"
    # Third column: a raw bar after two or more ex-dates at once, whose reference price Python computes.
    flag = "seg - pre_seg > 1" if adjuster.adjust == "none" and adjuster.actions else "false"
    return f"{line}, (\"time\" AT TIME ZONE 'Asia/Shanghai')::date, {flag}", params


def history_lines(
    instrument: Any,
    adjuster: PriceAdjuster,
    *,
    start: dt.date | None,
    end: dt.date | None,
    interval: str,
    limit: int,
    columns: tuple[str, ...],
    fmt: str,
) -> list[tuple[str, dt.date]]:
    """At most ``limit`` bars as finished CSV lines or JSON objects with their dates (``lines_apply``).

    The database computes every column and writes the line; Python only joins them. A page
    holding a raw bar after two ex-dates at once (a suspension over both; rare) is built from
    ``history_rows`` and the writers instead, which give the same text.
    """
    select, select_params = _line_sql(adjuster, instrument.symbol, columns, fmt)
    fetched = _run_rows_sql(instrument, adjuster, start, end, limit, select, select_params)
    if any(flag for _line, _day, flag in fetched):
        rows = history_rows_python(instrument, adjuster, start=start, end=end, interval=interval, limit=limit)
        return list(zip(lines_of(rows, columns, fmt), [row[2] for row in rows], strict=True))
    return [(line, day) for line, day, _flag in fetched]


def iter_history_lines(
    instrument: Any,
    adjuster: PriceAdjuster,
    *,
    start: dt.date | None,
    end: dt.date | None,
    interval: str,
    batch_size: int,
    columns: tuple[str, ...],
    fmt: str,
) -> Iterator[list[str]] | None:
    """Batches of finished lines of the whole range (see ``history_lines``), or ``None``."""
    if fmt not in ("csv", "json") or not lines_apply(adjuster, interval):
        return None

    def batches() -> Iterator[list[str]]:
        cursor = start
        while True:
            page = history_lines(
                instrument,
                adjuster,
                start=cursor,
                end=end,
                interval=interval,
                limit=batch_size + 1,
                columns=columns,
                fmt=fmt,
            )
            yield [line for line, _day in page[:batch_size]]
            if len(page) <= batch_size:
                return
            cursor = page[batch_size][1]

    return batches()


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


def _run_rows_sql(
    instrument: Any,
    adjuster: PriceAdjuster,
    start: dt.date | None,
    end: dt.date | None,
    limit: int,
    select: str,
    select_params: list[Any],
) -> list[tuple]:
    raw = adjuster.adjust == "none"
    segment, segment_params = _segment_sql(adjuster.ex_dates)
    if raw:
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
    upper, upper_params = "", []
    if end is not None:
        upper, upper_params = 'AND "time" < %s', [_time_param(end + dt.timedelta(days=1))]
    reference, reference_params = _reference_sql(adjuster)
    sql = _ROWS_SQL.format(
        **{name: finite_sql(name) for name in ("open", "high", "low", "close", "amount")},
        select=select,
        reference=reference,
        segment=segment,
        factor=factor,
        offset=offset,
        table=_TABLE,
        lower=lower,
        upper=upper,
        scale=decimal_places(adjuster.quantum),
    )
    params = [
        *select_params,
        *reference_params,
        *segment_params,
        *factor_params,
        *offset_params,
        instrument.pk,
        *lower_params,
        *upper_params,
        limit + 1,
        first,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _uses_sql_rows(adjuster: PriceAdjuster, interval: str) -> bool:
    """Adjusted daily bars on PostgreSQL: the database's numeric maths beats Python's Decimals.

    Raw daily bars stay in Python (the database still rounds and hands over text, see
    ``prices.queries._daily_bars``): there the window and casts cost PostgreSQL more than
    they save Python (CPU per request measured with ``bench/api_load.py``).
    """
    return interval == "1d" and adjuster.adjust != "none" and connection.vendor == "postgresql"


def lines_apply(adjuster: PriceAdjuster, interval: str) -> bool:
    """Whether ``history_lines`` serves this series: daily bars on PostgreSQL/TimescaleDB."""
    return interval == "1d" and connection.vendor == "postgresql"


def history_rows(
    instrument: Any,
    adjuster: PriceAdjuster,
    *,
    start: dt.date | None,
    end: dt.date | None,
    interval: str,
    limit: int,
) -> list[tuple]:
    """At most ``limit`` rows of one instrument from ``start`` (a bar's ``period_start``) on, oldest first."""
    if _uses_sql_rows(adjuster, interval):
        return _daily_rows_postgres(instrument, adjuster, start, end, limit)
    return history_rows_python(instrument, adjuster, start=start, end=end, interval=interval, limit=limit)


def history_rows_python(
    instrument: Any, adjuster: PriceAdjuster, *, start: dt.date | None, end: dt.date | None, interval: str, limit: int
) -> list[tuple]:
    """``history_rows`` computed in Python (every backend, every interval)."""
    bars = fetch_bars(instrument, adjuster, start=start, end=end, interval=interval, limit=limit)
    if not bars:
        return []
    # Without a start the range begins at the instrument's first bar: nothing before it.
    previous = previous_close(instrument.pk, bars[0].period_start) if start is not None else None
    return list(RowMaker(instrument.symbol, adjuster).rows(bars, previous))


def iter_history_rows(
    instrument: Any,
    adjuster: PriceAdjuster,
    *,
    start: dt.date | None,
    end: dt.date | None,
    interval: str,
    batch_size: int,
) -> Iterator[tuple]:
    """Every row of the range, read ``batch_size`` bars at a time (keyset on the date), memory bounded."""
    if _uses_sql_rows(adjuster, interval):
        cursor = start
        while True:
            page = _daily_rows_postgres(instrument, adjuster, cursor, end, batch_size + 1)
            yield from page[:batch_size]
            if len(page) <= batch_size:
                return
            cursor = page[batch_size][2]
    bars = iter_bars(instrument, adjuster, start=start, end=end, interval=interval, batch_size=batch_size)
    first = next(bars, None)
    if first is None:
        return
    previous = previous_close(instrument.pk, first.period_start) if start is not None else None
    yield from RowMaker(instrument.symbol, adjuster).rows(itertools.chain([first], bars), previous)
