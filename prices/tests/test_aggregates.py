"""Weekly and monthly bars: the same answers whether TimescaleDB's continuous aggregates serve them or not.

The comparison goes through the API with ``BARS_FROM_AGGREGATES`` on and off, so it holds
whatever dating convention the on-the-fly aggregation uses. It runs on every tier (elsewhere
both answers are aggregated from the days); on TimescaleDB the aggregates are refreshed
first (outside a transaction, hence ``transaction=True``) and the test checks that they were
read.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from django.db import connection

from etfs.tests.factories import InstrumentFactory
from prices.models import SHANGHAI, CorporateAction, DailyBar, trading_date_to_time
from prices.timescale import AGGREGATE_VIEWS, refresh_aggregates

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/instruments/{}/bars/"
SYMBOL = "510300.SH"


def weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def random_walk_bars(instrument, days: list[dt.date], seed: int = 1, unknown_amount_every: int = 0) -> None:
    """Bars with distinct open/high/low/close, so first/last/max/min mistakes show."""
    rng = random.Random(seed)
    close = D("3.000")
    bars = []
    for i, day in enumerate(days):
        open_ = (close * D(1 + rng.uniform(-0.01, 0.01))).quantize(D("0.001"))
        close = (open_ * D(1 + rng.uniform(-0.03, 0.03))).quantize(D("0.001"))
        high = max(open_, close) + D(rng.randint(0, 30)) / 1000
        low = min(open_, close) - D(rng.randint(0, 30)) / 1000
        volume = rng.randint(1, 10_000) * 100
        amount = (
            None if unknown_amount_every and i % unknown_amount_every == 7 else (close * volume).quantize(D("0.01"))
        )
        bars.append(
            DailyBar(
                instrument=instrument,
                time=trading_date_to_time(day),
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume,
                amount=amount,
            )
        )
    DailyBar.objects.bulk_create(bars)


@pytest.fixture
def history(is_timescale):
    """Two instruments, 2023-2024 (with a holiday gap and unknown amounts), aggregates refreshed."""
    instrument = InstrumentFactory(code="510300")
    days = [
        d
        for d in weekdays(dt.date(2023, 1, 3), dt.date(2024, 12, 31))
        if not dt.date(2024, 9, 30) < d < dt.date(2024, 10, 8)
    ]
    random_walk_bars(instrument, days, seed=1, unknown_amount_every=40)
    random_walk_bars(InstrumentFactory(code="510500"), days, seed=2)
    refreshed = refresh_aggregates()
    assert refreshed == (sorted(AGGREGATE_VIEWS.values()) if is_timescale else [])
    return instrument


def all_pages(client, params: dict) -> list[dict]:
    """Every bar of a JSON answer, following the ``next`` links."""
    results = []
    response = client.get(URL.format(SYMBOL), params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        results += body["results"]
        if not body.get("next"):
            return results
        response = client.get(body["next"])


def answers(client, settings, params: dict) -> tuple[object, object, list[str]]:
    """(with aggregates, without, SQL run with aggregates) for the same request."""
    sql: list[str] = []

    def record(execute, query, params, many, context):
        sql.append(query)
        return execute(query, params, many, context)

    settings.BARS_FROM_AGGREGATES = True
    # Not CaptureQueriesContext: every request resets the log it reads.
    with connection.execute_wrapper(record):
        served = all_pages(client, params)
    settings.BARS_FROM_AGGREGATES = False
    computed = all_pages(client, params)
    return served, computed, sql


RANGES = [
    {},
    {"start": "2023-03-01", "end": "2024-06-30"},  # both ends cut a week; start cuts no month
    {"start": "2023-03-06", "end": "2024-03-31"},  # a Monday, a Sunday: whole weeks; whole months
    {"start": "2024-10-09", "end": "2024-10-10"},  # inside one week and one month
    {"start": "2024-12-30"},  # the last, partial week
]


@pytest.mark.parametrize("interval", ["1w", "1M"])
@pytest.mark.parametrize("bounds", RANGES, ids=lambda b: "-".join(b.values()) or "all")
def test_aggregated_bars_are_the_same_from_the_continuous_aggregate(
    client, settings, history, is_timescale, interval, bounds
):
    served, computed, sql = answers(client, settings, {"interval": interval, "page_size": 17, **bounds})

    assert served == computed
    assert served  # every range holds bars
    whole_buckets_inside = bounds not in ({"start": "2024-10-09", "end": "2024-10-10"},)
    assert any(AGGREGATE_VIEWS[interval] in q for q in sql) is (is_timescale and whole_buckets_inside)


@pytest.mark.parametrize("interval", ["1w", "1M"])
def test_csv_streams_are_the_same_from_the_continuous_aggregate(client, settings, history, interval):
    settings.BARS_FROM_AGGREGATES = True
    served = b"".join(client.get(URL.format(SYMBOL), {"interval": interval, "format": "csv"}).streaming_content)
    settings.BARS_FROM_AGGREGATES = False
    computed = b"".join(client.get(URL.format(SYMBOL), {"interval": interval, "format": "csv"}).streaming_content)
    assert served == computed
    assert served.count(b"\n") > 20


def test_adjusted_weekly_bars_across_an_ex_date_are_the_same(client, settings, history):
    CorporateAction.objects.create(instrument=history, ex_date=dt.date(2024, 3, 13), cash=D("0.120"))
    for adjust in ("qfq", "hfq"):
        served, computed, _ = answers(client, settings, {"interval": "1w", "adjust": adjust})
        assert served == computed


@pytest.mark.timescale
def test_a_write_after_the_refresh_is_served_at_once(client, settings, history):
    """Materialized buckets a later write touched are aggregated from the days until a refresh."""
    old = DailyBar.objects.get(instrument=history, time=trading_date_to_time(dt.date(2023, 6, 7)))
    DailyBar.objects.filter(pk=old.pk).update(volume=old.volume + 12_300, high=old.high + D("1.000"))

    served, computed, sql = answers(client, settings, {"interval": "1w", "start": "2023-06-05", "end": "2023-06-11"})

    assert served == computed
    assert served[0]["volume"] == computed[0]["volume"]
    assert from_days(sql)  # the aggregate answered nothing for a range it is not current for
    refresh_aggregates()
    again, _, sql = answers(client, settings, {"interval": "1w", "start": "2023-06-05", "end": "2023-06-11"})
    assert again == computed
    assert not from_days(sql)


def from_days(sql: list[str]) -> bool:
    """Whether a query aggregated the days themselves (not through a continuous aggregate)."""
    return any("time_bucket" in q and "prices_dailybar_" not in q for q in sql)


def first_monday_not_materialized() -> dt.date:
    """The first week the aggregates have not materialized: its writes are not logged as
    invalidations, it comes from the days (TimescaleDB's invalidation threshold is shared by
    every test of the run, so it is read, not assumed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT _timescaledb_functions.to_timestamp(t.watermark) "
            "FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold t "
            "JOIN _timescaledb_catalog.hypertable h ON h.id = t.hypertable_id WHERE h.table_name = 'prices_dailybar'"
        )
        threshold = cursor.fetchone()[0].astimezone(SHANGHAI).date()
    return threshold + dt.timedelta(days=-threshold.weekday() % 7)


@pytest.mark.timescale
def test_the_current_week_shows_before_any_refresh(client, settings, history):
    """Real-time aggregation: bars newer than the last refresh come straight from the days."""
    monday = first_monday_not_materialized()
    random_walk_bars(history, weekdays(monday, monday + dt.timedelta(days=2)), seed=3)
    new_week_volume = sum(
        DailyBar.objects.filter(instrument=history, time__gte=trading_date_to_time(monday)).values_list(
            "volume", flat=True
        )
    )

    served, computed, sql = answers(client, settings, {"interval": "1w", "start": str(monday - dt.timedelta(days=7))})

    assert served == computed
    assert served[-1]["volume"] == new_week_volume
    assert any(AGGREGATE_VIEWS["1w"] in q for q in sql)
