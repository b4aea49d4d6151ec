"""The landing page at ``/``: counts, freshness, last sync per kind, gaps against the calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from etfs.calendar import SHANGHAI, trading_days
from etfs.models import AssetType, SyncRun
from etfs.tests.factories import InstrumentFactory, StockFactory, SyncRunFactory, make_bars
from etfs.views import build_landing_summary, cached_gaps, find_gaps
from prices.models import DailyBar

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_gap_cache():
    """Gap results are cached per finished sync; each test starts from an empty cache."""
    cache.clear()
    yield
    cache.clear()


# Friday 2024-06-28 after the close: that day's bars are final.
FRIDAY_EVENING = dt.datetime(2024, 6, 28, 18, 0, tzinfo=SHANGHAI)


JUNE = trading_days(dt.date(2024, 6, 3), dt.date(2024, 6, 28))


def test_counts_active_etfs_and_stocks():
    InstrumentFactory.create_batch(3)
    InstrumentFactory(is_active=False)
    StockFactory.create_batch(2)
    StockFactory(asset_type=AssetType.REIT)

    summary = build_landing_summary(FRIDAY_EVENING)

    assert (summary.etfs, summary.stocks, summary.others, summary.inactive) == (3, 2, 1, 1)


def test_fresh_when_the_last_final_trading_day_is_stored():
    make_bars(InstrumentFactory(), JUNE)

    summary = build_landing_summary(FRIDAY_EVENING)

    assert (summary.latest_bar_date, summary.expected_bar_date) == (dt.date(2024, 6, 28), dt.date(2024, 6, 28))
    assert summary.is_fresh


def test_stale_counts_trading_days_behind_across_a_weekend():
    make_bars(InstrumentFactory(), JUNE[:-2])  # up to Wednesday 26th

    monday_evening = dt.datetime(2024, 7, 1, 18, 0, tzinfo=SHANGHAI)
    summary = build_landing_summary(monday_evening)

    assert summary.expected_bar_date == dt.date(2024, 7, 1)
    assert summary.trading_days_behind == 3  # Thursday, Friday, Monday
    assert not summary.is_fresh


def test_before_the_close_the_previous_trading_day_is_expected():
    make_bars(InstrumentFactory(), JUNE)

    summary = build_landing_summary(dt.datetime(2024, 7, 1, 10, 0, tzinfo=SHANGHAI))

    assert summary.expected_bar_date == dt.date(2024, 6, 28)
    assert summary.is_fresh


def test_no_bars_is_not_fresh():
    summary = build_landing_summary(FRIDAY_EVENING)

    assert summary.latest_bar_date is None
    assert not summary.is_fresh


def test_gaps_are_trading_days_missing_between_first_and_last_bar():
    complete = InstrumentFactory(code="510300")
    make_bars(complete, JUNE)
    holey = InstrumentFactory(code="510500")
    make_bars(holey, [day for day in JUNE if day not in (dt.date(2024, 6, 12), dt.date(2024, 6, 13))])
    late = InstrumentFactory(code="510050")  # listed mid-month: no gap before its first bar
    make_bars(late, JUNE[10:])

    gaps, total = find_gaps()

    assert total == 1
    assert [(g.symbol, g.bars, g.expected, g.missing) for g in gaps] == [("510500.SH", 17, 19, 2)]


def test_gaps_are_ranked_by_missing_days():
    make_bars(InstrumentFactory(code="510300"), JUNE[:3] + JUNE[4:])
    make_bars(InstrumentFactory(code="510500"), JUNE[:3] + JUNE[8:])

    gaps, _total = find_gaps()

    assert [(g.symbol, g.missing) for g in gaps] == [("510500.SH", 5), ("510300.SH", 1)]


def test_gap_search_reads_no_bar_rows():
    for code in ("510300", "510500", "510050"):
        make_bars(InstrumentFactory(code=code), JUNE[:5] + JUNE[6:])

    with CaptureQueriesContext(connection) as queries:
        _gaps, total = find_gaps()

    assert total == 3
    assert len(queries) == 2  # one GROUP BY over the bars, one for the names shown


def test_last_sync_per_kind():
    now = timezone.now()
    old_ok = SyncRunFactory(kind=SyncRun.Kind.ETFS, status=SyncRun.Status.SUCCESS, started_at=now, finished_at=now)
    latest = SyncRunFactory(
        kind=SyncRun.Kind.ETFS, status=SyncRun.Status.FAILED, started_at=now + dt.timedelta(hours=1)
    )

    summary = build_landing_summary(FRIDAY_EVENING)

    etfs, stocks = summary.syncs
    assert (etfs.kind, etfs.last_run.pk, etfs.last_success.pk) == ("etfs", latest.pk, old_ok.pk)
    assert (stocks.kind, stocks.last_run, stocks.last_success) == ("stocks", None, None)


def test_page_renders_counts_freshness_syncs_and_gaps(client):
    etf = InstrumentFactory(code="510300", name="沪深300ＥＴＦ")
    make_bars(etf, JUNE[:3] + JUNE[4:])
    StockFactory(code="600519")
    run = SyncRunFactory(kind=SyncRun.Kind.ETFS, status=SyncRun.Status.SUCCESS, finished_at=timezone.now())

    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<div class="n" id="count-etfs">1</div>' in html
    assert '<div class="n" id="count-stocks">1</div>' in html
    assert "Latest bar: <strong>2024-06-28</strong>" in html
    assert f'href="/admin/etfs/syncrun/{run.pk}/change/">#{run.pk}</a>' in html
    assert '<span class="status status-success">Success</span>' in html
    assert f'<a href="/admin/etfs/instrument/{etf.pk}/change/">510300.SH</a> 沪深300ＥＴＦ' in html


def test_page_query_count_does_not_grow_with_instruments(client):
    def page_queries() -> int:
        cache.clear()  # compare the uncached page
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        return len(queries)

    make_bars(InstrumentFactory(), JUNE[:3] + JUNE[4:])
    few = page_queries()
    for _ in range(8):
        make_bars(InstrumentFactory(), JUNE[:3] + JUNE[4:])

    assert page_queries() == few


def test_gaps_are_reused_until_a_sync_finishes():
    etf = InstrumentFactory(code="510300")
    make_bars(etf, JUNE[:3] + JUNE[4:])
    assert cached_gaps(dt.date(2024, 6, 28))[1] == 1
    DailyBar.objects.filter(instrument=etf).delete()
    make_bars(etf, JUNE)  # same last bar, no gap any more

    assert cached_gaps(dt.date(2024, 6, 28))[1] == 1  # nothing finished since: the cached answer
    SyncRunFactory(status=SyncRun.Status.SUCCESS, finished_at=timezone.now())
    assert cached_gaps(dt.date(2024, 6, 28))[1] == 0
