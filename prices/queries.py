"""Reading bars for the API: daily pages, weekly/monthly aggregation, latest bar per instrument.

Aggregated bars (``1w``, ``1M``) are computed in the database — ``time_bucket`` on
TimescaleDB, ``date_trunc`` on PostgreSQL, date functions on SQLite — with the same answer
everywhere: open = first open, close = last close, high = max, low = min, volume and
amount = sums. Weeks run Monday to Sunday and months are calendar months, both in
Asia/Shanghai. A bar is dated by its period's **last trading date** (the date of its last
stored bar), as Tushare and East Money's ``klt=102/103`` do, so a join on date never
leaks a Friday close into Monday's row; ``period_start`` (its first stored bar's date)
stands beside it and is what pages continue from.

Adjusted (qfq/hfq) aggregates equal the aggregate of adjusted daily bars: the database
groups by bucket *and* by the span between corporate actions, each span is adjusted with
its own affine map (monotonic, so max/min commute with it), and the spans of one bucket are
merged here. Every read is keyed on ``(instrument_id, time)``, the table's unique index.

On TimescaleDB, raw weekly and monthly bars come from the continuous aggregates of migration
``prices.0007`` when the range has no corporate action splitting it and the aggregate is
current for it (``etfsync_aggregate_is_current``, migration ``prices.0007``): the same rows, in the same shape,
as aggregating the days here; buckets the range cuts (a ``start`` or ``end`` inside a week)
are still aggregated from the days. ``settings.BARS_FROM_AGGREGATES = False`` turns it off.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, NamedTuple, Protocol, TypedDict, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from etfs.calendar import trading_days
from etfs.models import Instrument, SyncRun
from prices.adjustments import Action, PriceAdjuster
from prices.models import CorporateAction, DailyBar, time_to_trading_date, trading_date_to_time
from prices.timescale import AGGREGATE_VIEWS

INTERVALS = ("1d", "1w", "1M")
# Earliest and latest dates a query may name: outside them time zone arithmetic overflows.
MIN_DATE = dt.date(1990, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
CENT = Decimal("0.01")
STORED_PRICE_QUANTUM = Decimal("0.001")  # prices.models.PRICE decimal places
# Adjusted prices are ``round(raw × a + b)`` computed exactly (a fused multiply-add in a context
# wide enough for any stored price times any factor), then rounded half up to the quoted
# precision: the same number PostgreSQL's exact numeric arithmetic gives, so the SQL path of
# raw daily bars (``prices.rows``) and this one agree to the last digit.
EXACT = Context(prec=80)


def adjusted_price(raw: Decimal, a: Decimal, b: Decimal, quantum: Decimal) -> Decimal:
    return raw.fma(a, b, EXACT).quantize(quantum, ROUND_HALF_UP)


def decimal_places(quantum: Decimal) -> int:
    """Places after the point of a quantum such as ``Decimal("0.001")`` (3)."""
    exponent = quantum.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite quantum: {quantum}")
    return -exponent


def finite_sql(column: str) -> str:
    """A stored number, or NULL for the NaN/Infinity an earlier version stored (PostgreSQL's numeric
    keeps them; see ``prices.integrity``): served as null, as ``_quantize`` does, never as 'NaN'."""
    return f"CASE WHEN {column} < 'Infinity'::numeric AND {column} > '-Infinity'::numeric THEN {column} END"


class Bar(NamedTuple):
    """One daily or aggregated bar as served: prices already adjusted and rounded.

    A tuple, not a dataclass: a full history is thousands of them per request. Raw bars read
    from PostgreSQL carry ``open``, ``high``, ``low`` and ``amount`` as their exact decimal
    text (the writers need nothing else); ``close`` is always a ``Decimal``.
    """

    date: dt.date  # the trading date; for 1w/1M the period's last trading date
    # Text on the raw PostgreSQL path (above); None for a non-finite stored price (NaN written
    # by versions before validation): served as null.
    open: Decimal | str | None
    high: Decimal | str | None
    low: Decimal | str | None
    close: Decimal | None
    volume: int
    amount: Decimal | None  # None when any day it sums has no reported amount
    period_start: dt.date  # the period's first trading date (== date for daily bars)

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
            "amount": self.amount,
        }


def is_timescale() -> bool:
    return getattr(settings, "IS_TIMESCALE", False) or (
        connection.settings_dict["ENGINE"] == "timescale.db.backends.postgresql"
    )


def with_bar_extent(instruments: QuerySet[Instrument]) -> QuerySet[Instrument]:
    """Annotate each instrument's ``first_bar_time``, ``last_bar_time`` (None without bars) and
    ``bar_count``: correlated subqueries on the bars' (instrument, time) index, evaluated for
    the rows fetched only, so a page costs one query however many instruments exist."""
    bars = DailyBar.objects.filter(instrument_id=OuterRef("pk")).order_by()
    return instruments.annotate(
        first_bar_time=Subquery(bars.order_by("time").values("time")[:1]),
        last_bar_time=Subquery(bars.order_by("-time").values("time")[:1]),
        bar_count=Coalesce(Subquery(bars.values("instrument_id").annotate(n=Count("*")).values("n")), 0),
    )


def missing_days(instrument: Instrument, first: dt.date | None, last: dt.date | None, bar_count: int) -> list[dt.date]:
    """Trading days from ``first`` to ``last`` (the instrument's first and last bar) without a bar.

    The bar dates are read only when the count says something is missing, so a complete
    history costs no query. Suspensions show here too, as on the landing page's gap list.
    """
    if first is None or last is None:
        return []
    sessions = trading_days(first, last)
    if bar_count == len(sessions):
        return []
    stored = {
        time_to_trading_date(t) for t in DailyBar.objects.filter(instrument=instrument).values_list("time", flat=True)
    }
    return [day for day in sessions if day not in stored]


def adjuster_for(instrument: Instrument, adjust: str) -> PriceAdjuster:
    """A price adjuster from the instrument's corporate actions.

    Raw (``none``) series load them too: a raw bar's ``pre_close`` on an ex-day is the
    exchange's reference price, ``(previous close - cash) / ratio``.
    """
    actions = [
        Action(ex_date, cash, ratio)
        for ex_date, cash, ratio in CorporateAction.objects.filter(instrument=instrument).values_list(
            "ex_date", "cash", "split_ratio"
        )
    ]
    return PriceAdjuster(actions, adjust, instrument.price_decimals)


def actions_by_instrument(instrument_ids: Sequence[int]) -> dict[int, list[Action]]:
    """The corporate actions of many instruments in one query (cross-sections)."""
    found: dict[int, list[Action]] = {}
    rows = CorporateAction.objects.filter(instrument_id__in=list(instrument_ids)).values_list(
        "instrument_id", "ex_date", "cash", "split_ratio"
    )
    for instrument_id, ex_date, cash, ratio in rows:
        found.setdefault(instrument_id, []).append(Action(ex_date, cash, ratio))
    return found


class BarOwner(Protocol):
    """An instrument as the bar readers need it: an ``Instrument`` or a ``SectionInstrument``."""

    @property
    def pk(self) -> int: ...

    @property
    def symbol(self) -> str: ...


class Span(TypedDict):
    """Which of an instrument's bars a reader wants: from ``start`` (a bar's ``period_start``) to
    ``end``, both inclusive and optional, one bar per ``interval`` (``1d``, ``1w``, ``1M``)."""

    start: dt.date | None
    end: dt.date | None
    interval: str


@dataclass(frozen=True, slots=True)
class Series:
    """One instrument's bars in the series ``adjuster`` serves, over a span: what every bar reader
    (here and in ``prices.rows``) takes, so the five facts travel together."""

    instrument: BarOwner
    adjuster: PriceAdjuster
    start: dt.date | None = None
    end: dt.date | None = None
    interval: str = "1d"

    def starting(self, start: dt.date | None) -> Series:
        """The same series from another first bar (the next page of a keyset read)."""
        return replace(self, start=start)

    def previous(self, first: dt.date) -> tuple[dt.date, Any] | None:
        """The stored bar before the bar ``first`` starts, whose close is the first row's ``pre_close``.

        Without a ``start`` the span begins at the instrument's first bar: nothing before it, no query.
        """
        return previous_close(self.instrument.pk, first) if self.start is not None else None


Item = TypeVar("Item")


def keyset_batches(
    page: Callable[[dt.date | None, int], Sequence[Item]],
    start: dt.date | None,
    batch_size: int,
    day_of: Callable[[Item], dt.date],
) -> Iterator[Sequence[Item]]:
    """A whole range ``batch_size`` items at a time: ``page(first, limit)`` reads one item more than a
    batch, whose date (``day_of``) the next page starts from (a keyset on the date).

    Memory stays bounded whatever the range, and no server-side cursor stays open between
    batches (a streaming response may be consumed slowly).
    """
    cursor = start
    while True:
        items = page(cursor, batch_size + 1)
        yield items[:batch_size]
        if len(items) <= batch_size:
            return
        cursor = day_of(items[batch_size])


def fetch_bars(series: Series, limit: int) -> list[Bar]:
    """At most ``limit`` bars from ``start`` to ``end`` (inclusive), oldest first.

    For ``1w``/``1M`` ``start`` should be a bucket's first trading date (as the API's cursor,
    a bar's ``period_start``, is), or the first bucket only covers the days from ``start`` on.
    """
    if series.interval == "1d":
        return _daily_bars(series, limit)
    if series.interval in ("1w", "1M"):
        return _aggregated_bars(series, limit)
    raise ValueError(f"unknown interval {series.interval!r} (expected one of {', '.join(INTERVALS)})")


def iter_bars(series: Series, batch_size: int = 5000) -> Iterator[Bar]:
    """Every bar of the range, fetched ``batch_size`` at a time (``keyset_batches``)."""
    batches = keyset_batches(
        lambda first, limit: fetch_bars(series.starting(first), limit), series.start, batch_size, _period_start
    )
    for batch in batches:
        yield from batch


def _period_start(bar: Bar) -> dt.date:
    return bar.period_start


def _quantize(value: Any, quantum: Decimal) -> Decimal | None:
    """A stored number at ``quantum``; None for none and for a non-finite one (NaN stored by
    an earlier version, which validated nothing): served as null, never a 500."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        # SQLite hands back numbers as int/float; str() gives the shortest exact text.
        value = Decimal(str(value))
    if not value.is_finite():
        return None
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def _trading_date_sql() -> str:
    """SQL for a bar's trading date (see ``_SQLITE_BUCKET`` for SQLite's +12 hours)."""
    if connection.vendor == "sqlite":
        return "date(\"time\", '+12 hours')"
    return "(\"time\" AT TIME ZONE 'Asia/Shanghai')::date"


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _daily_bars(series: Series, limit: int) -> list[Bar]:
    # A plain cursor, not the ORM: a page is 1,000s of rows and the ORM's per-row work
    # (model field converters, time zone conversion) cost more than everything else here.
    adjuster = series.adjuster
    where, params = _days_where(series.instrument.pk, series.start, series.end)
    raw_postgres = adjuster.adjust == "none" and connection.vendor == "postgresql"
    if raw_postgres:
        # The hot path, raw bars from PostgreSQL: the database rounds to the quoted precision
        # (round() is half away from zero, i.e. half up for prices) and hands open, high, low
        # and amount over as their exact decimal text, which every writer takes as is. Only
        # the close stays a Decimal: pre_close, change and pct_chg are computed from it.
        scale = decimal_places(adjuster.quantum)
        o, h, lo, c, am = (finite_sql(name) for name in ("open", "high", "low", "close", "amount"))
        columns = f"round({o}, {scale})::text, round({h}, {scale})::text, round({lo}, {scale})::text, {c}"
        columns += f", volume, ({am})::text"
    else:
        columns = "open, high, low, close, volume, amount"
    sql = f'SELECT {_trading_date_sql()}, {columns} FROM {_TABLE} WHERE {" AND ".join(where)} ORDER BY "time" LIMIT %s'
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    bars: list[Bar] = []
    append = bars.append
    quantize = _quantize
    new = tuple.__new__  # Bar(...) without NamedTuple's Python-level __new__: thousands per page
    if raw_postgres:
        quantum = adjuster.quantum
        for day, open_, high, low, close, volume, amount in rows:
            close = None if close is None else close.quantize(quantum, ROUND_HALF_UP)
            append(new(Bar, (day, open_, high, low, close, volume, amount, day)))
        return bars
    if adjuster.adjust == "none":
        quantum = adjuster.quantum
        for day, open_, high, low, close, volume, amount in rows:
            day = _as_date(day)
            append(
                Bar(
                    day,
                    quantize(open_, quantum),
                    quantize(high, quantum),
                    quantize(low, quantum),
                    quantize(close, quantum),
                    volume,
                    quantize(amount, CENT),
                    day,
                )
            )
        return bars
    # qfq/hfq: one segment lookup per bar, then the affine map of that segment on each price
    # (what PriceAdjuster.price does per price).
    maps, ex_dates, quantum = adjuster.maps, adjuster.ex_dates, adjuster.quantum
    exact = connection.vendor == "postgresql"  # Decimals at the stored scale already
    for day, open_, high, low, close, volume, amount in rows:
        day = _as_date(day)
        a, b = maps[bisect.bisect_right(ex_dates, day)]
        if not exact or not all(v is not None and v.is_finite() for v in (open_, high, low, close)):
            open_, high, low, close = (quantize(v, STORED_PRICE_QUANTUM) for v in (open_, high, low, close))
            if None in (open_, high, low, close):  # a non-finite number stored by an earlier version
                price = _price_function(adjuster, day)
                append(new(Bar, (day, price(open_), price(high), price(low), price(close), volume, amount, day)))
                continue
        append(
            new(
                Bar,
                (
                    day,
                    open_.fma(a, b, EXACT).quantize(quantum, ROUND_HALF_UP),
                    high.fma(a, b, EXACT).quantize(quantum, ROUND_HALF_UP),
                    low.fma(a, b, EXACT).quantize(quantum, ROUND_HALF_UP),
                    close.fma(a, b, EXACT).quantize(quantum, ROUND_HALF_UP),
                    volume,
                    amount if exact else quantize(amount, CENT),
                    day,
                ),
            )
        )
    return bars


def previous_close(instrument_id: int, before: dt.date) -> tuple[dt.date, Any] | None:
    """The trading date and raw close of the last stored bar before ``before`` (one index probe)."""
    sql = (
        f'SELECT {_trading_date_sql()}, close FROM {_TABLE} WHERE instrument_id = %s AND "time" < %s '
        'ORDER BY "time" DESC LIMIT 1'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [instrument_id, _time_param(before)])
        row = cursor.fetchone()
    return None if row is None else (_as_date(row[0]), row[1])


def _price_function(adjuster: PriceAdjuster, day: dt.date) -> Callable[[Any], Decimal | None]:
    """Rounding (and for qfq/hfq adjusting) of one day's raw prices."""
    if adjuster.adjust == "none":
        return lambda raw: _quantize(raw, adjuster.quantum)
    a, b = adjuster.factor(day)
    quantum = adjuster.quantum

    def adjusted(raw: Any) -> Decimal | None:
        value = _quantize(raw, STORED_PRICE_QUANTUM)
        return None if value is None else adjusted_price(value, a, b, quantum)

    return adjusted


# --- Aggregation ----------------------------------------------------------------------------
# Per backend: the bucket key and the SELECT producing, per (bucket, segment) group,
# (first trading date, bucket, segment, open, high, low, close, volume, amount, last trading date),
# oldest first.
_TABLE = DailyBar._meta.db_table

_TIMESCALE_BUCKET = {
    "1w": "time_bucket(INTERVAL '1 week', \"time\", 'Asia/Shanghai')",
    "1M": "time_bucket(INTERVAL '1 month', \"time\", 'Asia/Shanghai')",
}
_POSTGRES_BUCKET = {
    "1w": "date_trunc('week', \"time\" AT TIME ZONE 'Asia/Shanghai')",
    "1M": "date_trunc('month', \"time\" AT TIME ZONE 'Asia/Shanghai')",
}
# SQLite stores UTC text. A bar sits at local midnight, 16:00 UTC the day before (15:00 under
# the DST of 1986-1991): +12 hours lands inside the trading date whatever the offset.
# 'weekday 0' moves to the coming Sunday (or stays), -6 days gives that week's Monday.
_SQLITE_BUCKET = {
    "1w": "date(\"time\", '+12 hours', 'weekday 0', '-6 days')",
    "1M": "strftime('%%Y-%%m', \"time\", '+12 hours')",
}

# A bucket's turnover is known only when every day's is: SUM would silently skip unknown days.
_AMOUNT_SUM = "CASE WHEN count(amount) = count(*) THEN sum(amount) END"

_POSTGRES_SQL = """
SELECT (min("time") AT TIME ZONE 'Asia/Shanghai')::date AS day, {bucket} AS bucket, {segment} AS segment,
       {first_open}, max(high), min(low), {last_close}, sum(volume), {amount_sum},
       (max("time") AT TIME ZONE 'Asia/Shanghai')::date AS last_day
FROM {table}
WHERE {where}
GROUP BY 2, 3
ORDER BY 1
LIMIT %s
"""

_SQLITE_SQL = """
WITH g AS (
    SELECT {bucket} AS bucket, {segment} AS segment, min("time") AS first_time, max("time") AS last_time,
           max(high) AS high, min(low) AS low, sum(volume) AS volume, {amount_sum} AS amount
    FROM {table}
    WHERE {where}
    GROUP BY 1, 2
    ORDER BY 3
    LIMIT %s
)
SELECT date(g.first_time, '+12 hours'), g.bucket, g.segment, o.open, g.high, g.low, c.close, g.volume, g.amount,
       date(g.last_time, '+12 hours')
FROM g
JOIN {table} o ON o.instrument_id = %s AND o."time" = g.first_time
JOIN {table} c ON c.instrument_id = %s AND c."time" = g.last_time
ORDER BY g.first_time
"""


def _time_param(day: dt.date) -> Any:
    return connection.ops.adapt_datetimefield_value(trading_date_to_time(day))


def _days_where(instrument_id: int, start: dt.date | None, end: dt.date | None) -> tuple[list[str], list[Any]]:
    """``WHERE`` terms (joined by ``AND``) and parameters for one instrument's days from ``start`` to
    ``end``, both inclusive: a date is its day's 00:00 in Shanghai, so ``end`` bounds the next one's."""
    where, params = ["instrument_id = %s"], [instrument_id]
    if start is not None:
        where.append('"time" >= %s')
        params.append(_time_param(start))
    if end is not None:
        where.append('"time" < %s')
        params.append(_time_param(end + dt.timedelta(days=1)))
    return where, params


def _segment_sql(ex_dates: Sequence[dt.date]) -> tuple[str, list[Any]]:
    """SQL numbering the span between corporate actions a bar falls in (0 before the first)."""
    if not ex_dates:
        return "0", []
    whens = " ".join(f'WHEN "time" < %s THEN {i}' for i in range(len(ex_dates)))
    return f"CASE {whens} ELSE {len(ex_dates)} END", [_time_param(day) for day in ex_dates]


def _aggregated_bars(series: Series, limit: int) -> list[Bar]:
    instrument, adjuster, start, end = series.instrument, series.adjuster, series.start, series.end
    # Only ex-dates inside the range split buckets; before or after it they change nothing.
    ex_dates = [
        day
        for day in (adjuster.ex_dates if adjuster.adjust != "none" else [])
        if (start is None or day > start) and (end is None or day <= end)
    ]
    rows = None
    if not ex_dates and _aggregates_enabled():
        rows = _rows_from_aggregate(instrument, start, end, series.interval, limit)
    if rows is None:
        # A bucket split by corporate actions spans several rows: fetch enough rows for `limit` buckets.
        rows = _rows_from_days(instrument, start, end, series.interval, ex_dates, limit + len(ex_dates))
    return _merge_segments(rows, adjuster)[:limit]


def _rows_from_days(
    instrument: BarOwner,
    start: dt.date | None,
    end: dt.date | None,
    interval: str,
    ex_dates: Sequence[dt.date],
    row_limit: int,
) -> list[Sequence[Any]]:
    """(day, bucket, segment, open, high, low, close, volume, amount, last day) rows aggregated from the days."""
    segment, segment_params = _segment_sql(ex_dates)
    where, where_params = _days_where(instrument.pk, start, end)
    if connection.vendor == "sqlite":
        sql = _SQLITE_SQL.format(
            bucket=_SQLITE_BUCKET[interval],
            segment=segment,
            table=_TABLE,
            where=" AND ".join(where),
            amount_sum=_AMOUNT_SUM,
        )
        params = [*segment_params, *where_params, row_limit, instrument.pk, instrument.pk]
    else:
        if is_timescale():
            bucket, first_open, last_close = _TIMESCALE_BUCKET[interval], 'first(open, "time")', 'last(close, "time")'
        else:
            bucket = _POSTGRES_BUCKET[interval]
            first_open = '(array_agg(open ORDER BY "time"))[1]'
            last_close = '(array_agg(close ORDER BY "time" DESC))[1]'
        sql = _POSTGRES_SQL.format(
            bucket=bucket,
            segment=segment,
            first_open=first_open,
            last_close=last_close,
            table=_TABLE,
            where=" AND ".join(where),
            amount_sum=_AMOUNT_SUM,
        )
        params = [*segment_params, *where_params, row_limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# The continuous aggregate's rows in the shape of _POSTGRES_SQL's: its first_time/last_time are
# min("time")/max("time") of the bucket, amount_days/days the counts behind _AMOUNT_SUM.
_AGGREGATE_VIEW_SQL = """
SELECT (first_time AT TIME ZONE 'Asia/Shanghai')::date AS day, bucket, 0 AS segment,
       open, high, low, close, volume, CASE WHEN amount_days = days THEN amount END,
       (last_time AT TIME ZONE 'Asia/Shanghai')::date AS last_day
FROM {view}
WHERE etfsync_aggregate_is_current(%s, %s, %s) AND instrument_id = %s AND bucket >= %s AND bucket < %s
ORDER BY bucket
LIMIT %s
"""


def _aggregates_enabled() -> bool:
    return getattr(settings, "BARS_FROM_AGGREGATES", True) and connection.vendor == "postgresql" and is_timescale()


def bucket_start(day: dt.date, interval: str) -> dt.date:
    """First calendar day of ``day``'s week (Monday) or month."""
    return day - dt.timedelta(days=day.weekday()) if interval == "1w" else day.replace(day=1)


def next_bucket_start(day: dt.date, interval: str) -> dt.date:
    """First calendar day of the week or month after ``day``'s."""
    if interval == "1w":
        return bucket_start(day, interval) + dt.timedelta(days=7)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _rows_from_aggregate(
    instrument: BarOwner, start: dt.date | None, end: dt.date | None, interval: str, limit: int
) -> list[Sequence[Any]] | None:
    """Rows for ``limit`` buckets with whole buckets from the continuous aggregate, or None.

    Buckets cut by ``start`` or ``end`` are aggregated from the days of the range, exactly as
    without the aggregate. None when the aggregate gives no row: it is not current for the
    whole buckets (writes since its last refresh; the function answers false and the query
    returns nothing, in the same round trip) or the range holds no whole bucket of bars.
    """
    first_whole = None if start is None else (start if bucket_start(start, interval) == start else None)
    if start is not None and first_whole is None:
        first_whole = next_bucket_start(start, interval)
    after_end = None if end is None else end + dt.timedelta(days=1)
    end_whole = None if after_end is None else bucket_start(after_end, interval)  # exclusive
    if first_whole is not None and end_whole is not None and first_whole >= end_whole:
        return None  # no whole bucket inside the range: nothing to gain
    view = AGGREGATE_VIEWS[interval]
    lo = trading_date_to_time(max(first_whole or MIN_DATE, MIN_DATE))
    hi = trading_date_to_time(min(end_whole or MAX_DATE, MAX_DATE))
    with connection.cursor() as cursor:
        cursor.execute(_AGGREGATE_VIEW_SQL.format(view=view), [view, lo, hi, instrument.pk, lo, hi, limit])
        whole = cursor.fetchall()
    if not whole:
        return None
    rows: list[Sequence[Any]] = []
    if start is not None and first_whole is not None and first_whole != start:
        rows += _rows_from_days(instrument, start, first_whole - dt.timedelta(days=1), interval, [], 1)
    rows += whole
    if end_whole is not None and end_whole != after_end and len(rows) < limit:
        rows += _rows_from_days(instrument, end_whole, end, interval, [], 1)
    return rows


def _merge_segments(rows: Sequence[Sequence[Any]], adjuster: PriceAdjuster) -> list[Bar]:
    """Adjust each (bucket, segment) row with its own map and merge the rows of one bucket.

    A merged bar is dated by its last segment's last day; ``period_start`` is its first day.
    """
    bars: list[Bar] = []
    previous_bucket: Any = object()
    for first_day, bucket, _segment, open_, high, low, close, volume, amount, last_day in rows:
        first_day, last_day = _as_date(first_day), _as_date(last_day)
        price = _price_function(adjuster, first_day)
        bar = Bar(
            last_day,
            price(open_),
            price(high),
            price(low),
            price(close),
            int(volume),
            _quantize(amount, CENT),
            first_day,
        )
        if bars and bucket == previous_bucket:
            first = bars[-1]
            bar = Bar(
                bar.date,
                first.open,
                None if first.high is None or bar.high is None else max(first.high, bar.high),
                None if first.low is None or bar.low is None else min(first.low, bar.low),
                bar.close,
                first.volume + bar.volume,
                None if first.amount is None or bar.amount is None else first.amount + bar.amount,
                first.period_start,
            )
            bars[-1] = bar
        else:
            bars.append(bar)
        previous_bucket = bucket
    return bars


# --- Latest bars ------------------------------------------------------------------------------
def screen_data_version() -> str:
    """What a market screen's content depends on, read in one cheap query.

    The latest sync heartbeat moves whenever a sync writes bars (every few seconds, and at
    the end of a run); instruments' ``updated_at`` and count move with every curator edit.
    """
    instruments = connection.ops.quote_name(Instrument._meta.db_table)
    runs = connection.ops.quote_name(SyncRun._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(updated_at) FROM {instruments}), (SELECT count(*) FROM {instruments}), "
            f"(SELECT max(heartbeat_at) FROM {runs})"
        )
        return ":".join(str(value) for value in cursor.fetchone())


class ScreenInstrument(NamedTuple):
    """The few instrument fields a market screen shows (no model instances: 1,000s of rows)."""

    pk: int
    symbol: str
    name: str
    price_decimals: int
    last_bar_time: dt.datetime | None


def latest_bars(instruments: QuerySet[Instrument]) -> list[tuple[ScreenInstrument, Bar]]:
    """The latest bar of every instrument in ``instruments`` (those with bars), in two queries.

    First each instrument's last bar time (one index probe per instrument, backwards), then
    the bars at those times; instruments sharing a latest date share one ``IN`` value. Rows
    come back as tuples, not model instances: building 1,000 ``Instrument`` objects (with
    their raw provider JSON) cost more than the bars themselves.
    """
    last_time = DailyBar.objects.filter(instrument_id=OuterRef("pk")).order_by("-time").values("time")[:1]
    rows = instruments.annotate(last_bar_time=Subquery(last_time)).values_list(
        "pk", "symbol", "name", "price_decimals", "last_bar_time"
    )
    # Instruments without bars are dropped here, not in SQL, so the subquery runs once per row.
    picked = [ScreenInstrument(*row) for row in rows if row[4] is not None]
    if not picked:
        return []
    wanted = {(i.pk, i.last_bar_time) for i in picked}
    bar_rows = DailyBar.objects.filter(
        instrument_id__in=[i.pk for i in picked], time__in={i.last_bar_time for i in picked}
    ).values_list("instrument_id", "time", "open", "high", "low", "close", "volume", "amount")
    by_instrument = {}
    for instrument_id, time, open_, high, low, close, volume, amount in bar_rows:
        if (instrument_id, time) in wanted:
            by_instrument[instrument_id] = (time, open_, high, low, close, volume, amount)
    quanta = {d: Decimal(1).scaleb(-d) for d in {i.price_decimals for i in picked}}
    result = []
    for instrument in picked:
        if instrument.pk not in by_instrument:  # its latest bar was deleted between the two queries
            continue
        time, open_, high, low, close, volume, amount = by_instrument[instrument.pk]
        quantum = quanta[instrument.price_decimals]
        day = time_to_trading_date(time)
        bar = Bar(
            day,
            _quantize(open_, quantum),
            _quantize(high, quantum),
            _quantize(low, quantum),
            _quantize(close, quantum),
            volume,
            _quantize(amount, CENT),
            day,
        )
        result.append((instrument, bar))
    return result


# --- Cross-sections -----------------------------------------------------------------------------
class SectionInstrument(NamedTuple):
    """The few instrument fields a cross-section needs."""

    pk: int
    symbol: str
    price_decimals: int


def cross_section(
    instruments: QuerySet[Instrument], day: dt.date
) -> list[tuple[SectionInstrument, tuple, tuple[dt.date, Any] | None]]:
    """Every instrument's raw bar of ``day`` with its previous stored bar's ``(date, close)``, by symbol.

    Two index-backed queries whatever the number of instruments: the instruments (tuples),
    then the bars of that day, each with its previous bar found by a correlated probe of
    the ``(instrument_id, time)`` index. Raw rows are ``(open, high, low, close, volume, amount)``.
    """
    picked = {
        row[0]: SectionInstrument(*row) for row in instruments.order_by().values_list("pk", "symbol", "price_decimals")
    }
    if not picked:
        return []
    time = trading_date_to_time(day)
    before = DailyBar.objects.filter(instrument_id=OuterRef("instrument_id"), time__lt=OuterRef("time")).order_by(
        "-time"
    )
    rows = (
        DailyBar.objects.filter(time=time, instrument_id__in=instruments.order_by().values("pk"))
        .annotate(prev_time=Subquery(before.values("time")[:1]), prev_close=Subquery(before.values("close")[:1]))
        .values_list("instrument_id", "open", "high", "low", "close", "volume", "amount", "prev_time", "prev_close")
    )
    found = []
    for instrument_id, open_, high, low, close, volume, amount, prev_time, prev_close in rows:
        instrument = picked.get(instrument_id)
        if instrument is None:
            continue
        previous = None
        if prev_time is not None:
            if isinstance(prev_time, str):  # SQLite hands a subquery's datetime back as text
                prev_time = dt.datetime.fromisoformat(prev_time)
                if prev_time.tzinfo is None:
                    prev_time = prev_time.replace(tzinfo=dt.UTC)
            previous = (time_to_trading_date(prev_time), prev_close)
        found.append((instrument, (open_, high, low, close, volume, amount), previous))
    found.sort(key=lambda item: item[0].symbol)
    return found


def section_bar(raw: tuple, day: dt.date, adjuster: PriceAdjuster) -> Bar:
    """One cross-section row as a served bar (the same rounding and adjustment as ``fetch_bars``)."""
    open_, high, low, close, volume, amount = raw
    price = _price_function(adjuster, day)
    return Bar(day, price(open_), price(high), price(low), price(close), volume, _quantize(amount, CENT), day)


def instrument_with_actions(symbol: str) -> tuple[SectionInstrument, list[Action]] | None:
    """An instrument (by canonical symbol) and its corporate actions, oldest first, in one query.

    A bar request needs both before its first bar; one plain query instead of two ORM ones
    saves the ORM's per-query compile work, a good part of a small page's cost.
    """
    actions_table = CorporateAction._meta.db_table
    instruments_table = Instrument._meta.db_table
    sql = (
        f"SELECT i.id, i.symbol, i.price_decimals, a.ex_date, a.cash, a.split_ratio FROM {instruments_table} i "
        f"LEFT JOIN {actions_table} a ON a.instrument_id = i.id WHERE i.symbol = %s ORDER BY a.ex_date"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [symbol])
        rows = cursor.fetchall()
    if not rows:
        return None
    pk, canonical, decimals = rows[0][:3]
    actions = [
        Action(_as_date(ex_date), _as_decimal(cash), _as_decimal(ratio))
        for _pk, _symbol, _decimals, ex_date, cash, ratio in rows
        if ex_date is not None
    ]
    return SectionInstrument(pk, canonical, decimals), actions


def _as_decimal(value: Any) -> Decimal:
    # SQLite hands numbers back as int/float (or text); str() gives the shortest exact text.
    return value if isinstance(value, Decimal) else Decimal(str(value))
