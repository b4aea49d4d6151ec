"""TimescaleDB only: what migrate sets up, and syncs over compressed history.

Migration ``prices.0007`` enables compression (segment by instrument, newest first), adds
the policy and the weekly/monthly continuous aggregates. A sync that reaches compressed
chunks must store the same truth, count honestly and leave unchanged data compressed.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.simulator.market import SimConfig
from etfs.tests.factories import InstrumentFactory, make_bars
from prices.models import DailyBar, time_to_trading_date
from prices.timescale import AGGREGATE_VIEWS, chunk_states, compress_chunks

pytestmark = [pytest.mark.timescale, pytest.mark.django_db]

TODAY = dt.date(2024, 6, 28)
NOW = dt.datetime.combine(TODAY, dt.time(16, 0), tzinfo=SHANGHAI).isoformat()


def fetch(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.fixture
def sim(sync_host):
    """Three ETFs with two years of history: bars in three yearly chunks."""
    return sync_host(SimConfig(n_etfs=3, n_stocks=0, years=2, today=TODAY, seed=11))


def sync_etfs(*args: str) -> SyncRun:
    call_command("sync_etfs", "--now", NOW, *args, stdout=io.StringIO(), stderr=io.StringIO())
    return SyncRun.objects.latest("pk")


def stored() -> list[tuple]:
    return list(
        DailyBar.objects.order_by("instrument_id", "time").values_list(
            "instrument_id", "time", "open", "high", "low", "close", "volume", "amount"
        )
    )


def etf_symbols(sim) -> list[str]:
    return sorted(i.symbol.canonical for i in sim.market.listed() if i.is_etf)


def test_migrate_enables_compression_by_instrument_newest_first():
    settings = fetch(
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings WHERE hypertable_name = 'prices_dailybar' ORDER BY 1"
    )
    assert settings == [("instrument_id", 1, None, None), ("time", None, 1, False)]


def test_migrate_adds_a_compression_policy_past_the_revision_window(settings):
    (config,) = fetch(
        "SELECT config FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_compression' AND hypertable_name = 'prices_dailybar'"
    )
    assert json.loads(config[0])["compress_after"] == "60 days"
    # Far past the sync's overlap: trading days are at most 7/5 calendar days apart, plus holidays.
    assert settings.SYNC["OVERLAP_DAYS"] * 7 < 60


def test_migrate_adds_weekly_and_monthly_aggregates_with_refresh_policies():
    aggregates = fetch(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates "
        "WHERE hypertable_name = 'prices_dailybar' ORDER BY 1"
    )
    policies = fetch(
        "SELECT hypertable_name, schedule_interval FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY 1"
    )
    assert aggregates == [(AGGREGATE_VIEWS["1M"], False), (AGGREGATE_VIEWS["1w"], False)]  # real-time
    assert policies == [(AGGREGATE_VIEWS["1M"], dt.timedelta(hours=1)), (AGGREGATE_VIEWS["1w"], dt.timedelta(hours=1))]


def test_migrate_keeps_one_time_index():
    indexes = fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'prices_dailybar' ORDER BY 1")
    assert indexes == [("dailybar_instrument_time_uniq",), ("dailybar_time_idx",)]


def test_a_full_resync_over_compressed_chunks_changes_nothing(sim):
    sync_etfs()
    assert compress_chunks() >= 3
    before, chunks = stored(), chunk_states()
    assert all(compressed and status == 1 for _, compressed, status in chunks)  # 1: compressed, nothing pending

    run = sync_etfs("--full", "--symbols", *etf_symbols(sim)[:2])

    assert run.status == SyncRun.Status.SUCCESS
    assert (run.bars_inserted, run.bars_updated, run.bars_unchanged) == (0, 0, run.bars_unchanged)
    assert run.bars_unchanged > 400
    assert stored() == before
    assert chunk_states() == chunks  # nothing was decompressed


def test_a_revision_in_a_compressed_chunk_is_stored_once(sim):
    sync_etfs()
    compress_chunks()
    symbol = etf_symbols(sim)[0]
    old = sim.market.bars(symbol)[10]
    sim.market.revise_bar(symbol, old.day, volume=old.volume + 700)

    first = sync_etfs("--full", "--symbols", symbol)
    second = sync_etfs("--full", "--symbols", symbol)

    assert (first.bars_inserted, first.bars_updated) == (0, 1)
    assert (second.bars_inserted, second.bars_updated) == (0, 0)
    revised = DailyBar.objects.get(instrument__symbol=symbol, time__date__gte=old.day, time__date__lte=old.day)
    assert (time_to_trading_date(revised.time), revised.volume) == (old.day, old.volume + 700)
    partial = [status for _, compressed, status in chunk_states() if status & 8]  # 8: holds uncompressed rows
    assert len(partial) == 1  # only the revised chunk, and it stays readable as one table
    compress_chunks()
    assert all(status == 1 for _, _, status in chunk_states())
    assert DailyBar.objects.get(pk=revised.pk).volume == old.volume + 700


def job_id(proc_name: str, hypertable: str) -> int:
    (row,) = fetch(
        "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = %s",
        [proc_name, hypertable],
    )
    return row[0]


@pytest.mark.django_db(transaction=True)
def test_the_compression_policy_compresses_chunks_past_the_window_and_not_the_current_one():
    instrument = InstrumentFactory()
    today = dt.datetime.now(SHANGHAI).date()
    make_bars(instrument, [dt.date(2020, 6, 1), dt.date(2021, 6, 1), today])

    with connection.cursor() as cursor:
        cursor.execute("CALL run_job(%s)", [job_id("policy_compression", "prices_dailybar")])

    states = fetch(
        "SELECT range_end > now() - INTERVAL '60 days', is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'prices_dailybar' ORDER BY range_start"
    )
    assert states == [(False, True), (False, True), (True, False)]
    assert DailyBar.objects.filter(instrument=instrument).count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_refresh_policy_materializes_the_aggregates():
    make_bars(InstrumentFactory(), [dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 11)])

    with connection.cursor() as cursor:
        for view in AGGREGATE_VIEWS.values():
            cursor.execute("CALL run_job(%s)", [job_id("policy_refresh_continuous_aggregate", view)])

    weekly = fetch(
        "SELECT (bucket AT TIME ZONE 'Asia/Shanghai')::date, days "
        f"FROM _timescaledb_internal.{materialization('1w')} ORDER BY bucket"
    )
    assert weekly == [(dt.date(2024, 3, 4), 2), (dt.date(2024, 3, 11), 1)]


def materialization(interval: str) -> str:
    (row,) = fetch(
        "SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates "
        "WHERE view_name = %s",
        [AGGREGATE_VIEWS[interval]],
    )
    return row[0]


@pytest.mark.django_db(transaction=True)
def test_the_sync_refreshes_the_aggregates_after_writing(sim):
    sync_etfs()

    for interval, width in (("1w", "1 week"), ("1M", "1 month")):
        materialized = fetch(f"SELECT count(*), sum(days) FROM _timescaledb_internal.{materialization(interval)}")
        expected = fetch(
            f"SELECT count(DISTINCT (instrument_id, time_bucket(INTERVAL '{width}', time, 'Asia/Shanghai'))), "
            "count(*) FROM prices_dailybar"
        )
        assert materialized == expected
