"""run_sync against the in-memory fake provider: the semantics of issue 4, one per test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from etfs.calendar import SHANGHAI
from etfs.models import Instrument, SyncRun
from etfs.names import name_initials, normalise_name
from etfs.sync.options import SyncOptions
from etfs.sync.service import SyncOptionError, run_sync
from etfs.tests.factories import InstrumentFactory, SyncRunFactory
from etfs.tests.fake_provider import fake_market
from prices.models import DailyBar, time_to_trading_date

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 28)


def close_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(16, 0), tzinfo=SHANGHAI)


def stored(symbol: str) -> list[tuple]:
    return [
        (time_to_trading_date(b.time), b.open, b.high, b.low, b.close, b.volume, b.amount)
        for b in DailyBar.objects.filter(instrument__symbol=symbol).order_by("time")
    ]


def truth(provider, symbol: str) -> list[tuple]:
    return [(b.day, b.open, b.high, b.low, b.close, b.volume, b.amount) for b in provider.visible(symbol)]


@pytest.fixture
def market():
    return fake_market(today=TODAY)


def sync(market, now: dt.datetime | None = None, run: SyncRun | None = None, **options) -> SyncRun:
    options = SyncOptions.parse("etfs", workers=2, **options)
    return run_sync(options, provider=market, now=now or close_of(market.today), run=run)


def test_first_sync_stores_every_etf_bar_as_the_provider_reports_it(market):
    run = sync(market)

    assert run.status == SyncRun.Status.SUCCESS
    assert run.instruments_new == 3
    for symbol in ("510300.SH", "159919.SZ", "512880.SH"):
        assert stored(symbol) == truth(market, symbol)
    assert run.bars_inserted == sum(len(market.visible(s)) for s in ("510300.SH", "159919.SZ", "512880.SH"))


def test_first_sync_creates_instruments_with_list_values(market):
    sync(market)

    etf = Instrument.objects.get(symbol="159919.SZ")
    assert (etf.name, etf.is_etf, etf.asset_type, etf.is_active, etf.price_decimals) == (
        "沪深300ＥＴＦ",
        True,
        "etf",
        True,
        3,
    )
    assert etf.list_date == market.visible("159919.SZ")[0].day
    assert not Instrument.objects.filter(symbol="600000.SH").exists()


def test_new_instruments_get_whole_history_and_its_qfq_series_in_two_requests_each(market):
    sync(market)

    assert sorted(market.adjusted_requests) == [  # the evidence of ex-days, from the first bar on
        ("159919.SZ", market.visible("159919.SZ")[0].day, None),
        ("510300.SH", market.visible("510300.SH")[0].day, None),
        ("512880.SH", market.visible("512880.SH")[0].day, None),
    ]
    assert sorted(market.history_requests) == [
        ("159919.SZ", None, TODAY),
        ("510300.SH", None, TODAY),
        ("512880.SH", None, TODAY),
    ]


def test_second_sync_writes_nothing_and_says_so(market):
    sync(market)
    market.history_requests.clear()

    run = sync(market)

    assert (run.status, run.bars_inserted, run.bars_updated) == (SyncRun.Status.SUCCESS, 0, 0)
    assert run.bars_unchanged == 3
    assert "nothing changed" in run.message
    assert market.history_requests == []


def test_next_trading_day_comes_from_the_snapshot_without_history_requests(market):
    sync(market)
    before = DailyBar.objects.count()
    market.today = dt.date(2024, 7, 1)
    market.history_requests.clear()

    run = sync(market)

    assert (run.bars_inserted, run.bars_updated, run.requests) == (3, 0, 1)
    assert market.history_requests == []
    assert DailyBar.objects.count() == before + 3
    assert stored("510300.SH") == truth(market, "510300.SH")


def test_snapshot_is_not_used_before_the_day_is_final(market):
    sync(market)
    market.today = dt.date(2024, 7, 1)
    first_run = list(market.history_requests)

    run = sync(market, now=dt.datetime(2024, 7, 1, 14, 0, tzinfo=SHANGHAI))

    # Nothing new: not the snapshot's unfinished day, and no history (every ETF is current to
    # TODAY). Compared as a whole: two fetchers made the first run's requests in their own order.
    assert (run.bars_inserted, market.history_requests) == (0, first_run)


def test_instrument_behind_by_several_days_resumes_from_last_bar_minus_overlap(market, settings):
    settings.SYNC = {**settings.SYNC, "OVERLAP_DAYS": 3}
    sync(market)
    market.today = dt.date(2024, 7, 3)
    market.history_requests.clear()

    run = sync(market)

    # The whole raw and qfq series are read (the evidence of ex-days); bars are written from the overlap.
    assert ("159919.SZ", None, dt.date(2024, 7, 3)) in market.history_requests
    assert ("159919.SZ", dt.date(2024, 4, 1), None) in market.adjusted_requests
    assert (run.bars_inserted, run.bars_unchanged) == (9, 12)
    assert stored("159919.SZ") == truth(market, "159919.SZ")


def test_revised_bar_in_the_overlap_is_updated_and_counted(market):
    sync(market)
    market.revise("510300.SH", dt.date(2024, 6, 27), volume=999900)

    run = sync(market, prices_only=True)

    assert (run.bars_inserted, run.bars_updated) == (0, 1)
    assert DailyBar.objects.get(instrument__symbol="510300.SH", time__date=dt.date(2024, 6, 27)).volume == 999900


def test_revised_latest_bar_is_updated_from_the_snapshot(market):
    sync(market)
    market.revise("512880.SH", TODAY, amount=Decimal("777.70"))

    run = sync(market)

    assert (run.bars_inserted, run.bars_updated) == (0, 1)
    assert stored("512880.SH")[-1][-1] == Decimal("777.70")


def test_sync_never_duplicates_bars_when_ranges_overlap(market):
    sync(market)

    sync(market, start=dt.date(2024, 6, 1), end=dt.date(2024, 6, 20))
    sync(market, full=True)

    assert DailyBar.objects.count() == sum(len(market.visible(s)) for s in ("510300.SH", "159919.SZ", "512880.SH"))


def test_vanished_instrument_is_deactivated_with_delist_date_and_keeps_bars(market):
    sync(market)
    bars = DailyBar.objects.filter(instrument__symbol="512880.SH").count()
    market.instruments["512880.SH"].listed = False

    run = sync(market)

    etf = Instrument.objects.get(symbol="512880.SH")
    assert (etf.is_active, etf.delist_date, run.instruments_deactivated) == (False, TODAY, 1)
    assert DailyBar.objects.filter(instrument=etf).count() == bars


def test_returning_instrument_is_reactivated(market):
    sync(market)
    market.instruments["512880.SH"].listed = False
    sync(market)
    market.instruments["512880.SH"].listed = True

    run = sync(market)

    etf = Instrument.objects.get(symbol="512880.SH")
    assert (etf.is_active, etf.delist_date, run.instruments_updated) == (True, None, 1)


def test_locked_fields_are_never_overwritten(market):
    InstrumentFactory(code="510300", exchange="SH", name="My curated name", locked_fields=["name"])

    sync(market)

    assert Instrument.objects.get(symbol="510300.SH").name == "My curated name"


def test_always_failing_instrument_gives_partial_while_others_are_stored(market):
    market.failing.add("159919.SZ")

    run = sync(market)

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_symbols == ["159919.SZ"]
    assert run.failures == 1
    assert stored("510300.SH") == truth(market, "510300.SH")
    assert stored("159919.SZ") == []


def test_open_circuit_breaker_stops_the_run_as_failed(market):
    market.unavailable = True

    run = sync(market)

    assert run.status == SyncRun.Status.FAILED
    assert "refuses requests" in run.message
    assert run.finished_at is not None


def test_list_failure_still_syncs_known_instruments_as_partial(market):
    sync(market)
    market.today = dt.date(2024, 7, 1)
    market.list_fails = True

    run = sync(market)

    assert run.status == SyncRun.Status.PARTIAL
    assert "instrument list" in run.errors[0]["error"]
    assert stored("510300.SH") == truth(market, "510300.SH")


class Interrupted(Exception):
    pass


def test_interrupted_run_leaves_whole_instruments_and_the_next_run_finishes(market):
    def kill_after_first_write(phase, done, total):
        if phase == "history" and done >= 1:
            raise Interrupted("killed")

    with pytest.raises(Interrupted):
        run_sync(
            SyncOptions.parse("etfs", workers=1), provider=market, now=close_of(TODAY), progress=kill_after_first_write
        )
    partial = {s: stored(s) for s in ("510300.SH", "159919.SZ", "512880.SH")}
    assert all(bars in ([], truth(market, s)) for s, bars in partial.items())
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED

    run = sync(market)

    assert run.status == SyncRun.Status.SUCCESS
    for symbol in ("510300.SH", "159919.SZ", "512880.SH"):
        assert stored(symbol) == truth(market, symbol)


def test_dry_run_writes_nothing_and_reports_the_plan(market):
    run = sync(market, dry_run=True)

    assert (run.pk, run.instruments_new, run.status) == (None, 3, SyncRun.Status.SUCCESS)
    assert "3 history (not fetched: dry run)" in run.message
    assert (Instrument.objects.count(), DailyBar.objects.count(), SyncRun.objects.count()) == (0, 0, 0)
    assert market.history_requests == []


def test_symbols_limit_the_run_to_those_instruments(market):
    run = sync(market, symbols=["sh510300"])

    assert run.instruments_new == 1
    assert list(Instrument.objects.values_list("symbol", flat=True)) == ["510300.SH"]


def test_unknown_symbol_is_reported_as_a_failed_instrument(market):
    run = sync(market, symbols=["510300.SH", "588000.SH"])

    assert run.status == SyncRun.Status.PARTIAL
    assert run.failed_symbols == ["588000.SH"]


def test_bad_options_are_rejected_before_any_request(market):
    for options in (
        {"symbols": ["51030X"]},
        {"list_only": True, "prices_only": True},
        {"start": "2024-06-10", "end": "2024-06-01"},
        {"start": "June"},
        {"workers": 0},
    ):
        with pytest.raises(SyncOptionError):
            run_sync(SyncOptions.parse("etfs", **options), provider=market)
    assert market.stats.requests == 0
    assert SyncRun.objects.count() == 0


def test_stocks_sync_takes_only_stocks(market):
    run = run_sync(SyncOptions.parse("stocks"), provider=market, now=close_of(TODAY))

    assert run.instruments_new == 2
    assert set(Instrument.objects.values_list("symbol", flat=True)) == {"600000.SH", "000001.SZ"}
    assert stored("600000.SH") == truth(market, "600000.SH")


def test_run_records_parameters_and_request_counts(market):
    run = sync(market, symbols=["510300"], full=True)

    run.refresh_from_db()
    assert run.parameters["symbols"] == ["510300.SH"]
    assert run.parameters["full"] is True
    assert run.requests == 3  # the list, the raw history and its qfq series
    assert run.trigger == SyncRun.Trigger.COMMAND


def test_queued_run_row_is_used_and_finished(market):
    queued = SyncRunFactory(status=SyncRun.Status.QUEUED, trigger=SyncRun.Trigger.API, triggered_by="ana")

    run = sync(market, run=queued)

    queued.refresh_from_db()
    assert (run.pk, queued.status, queued.triggered_by) == (queued.pk, SyncRun.Status.SUCCESS, "ana")


def test_a_provider_lagging_behind_the_calendar_is_synced_up_to_its_latest_quote(market):
    sync(market)
    market.history_requests.clear()

    run = sync(market, now=close_of(dt.date(2024, 7, 2)))

    assert (run.status, run.bars_inserted, run.bars_unchanged) == (SyncRun.Status.SUCCESS, 0, 3)
    assert market.history_requests == []


def test_a_provider_without_lists_needs_prices_only(market):
    market.supports_listing = False

    with pytest.raises(SyncOptionError, match="has no instrument lists"):
        sync(market)
    assert market.stats.requests == 0


def test_a_provider_without_lists_syncs_known_instruments_with_prices_only(market):
    sync(market)
    market.supports_listing = False
    market.today = dt.date(2024, 7, 1)

    run = sync(market, prices_only=True)

    assert (run.status, run.bars_inserted) == (SyncRun.Status.SUCCESS, 3)


@pytest.mark.parametrize(("start", "end"), [("20240603", "20240607"), ("2024-06-03", "20240607")])
def test_start_and_end_take_compact_dates_as_tushare_users_write_them(start, end):
    options = SyncOptions.parse("etfs", start=start, end=end)

    assert (options.start, options.end) == (dt.date(2024, 6, 3), dt.date(2024, 6, 7))


@pytest.mark.parametrize("value", ["2024613", "2024/06/13", "20241332"])
def test_malformed_compact_dates_are_refused(value):
    with pytest.raises(SyncOptionError, match="YYYYMMDD"):
        SyncOptions.parse("etfs", start=value)


def test_the_sync_fills_the_search_columns_of_new_and_renamed_instruments(market):
    sync(market, list_only=True)
    instrument = Instrument.objects.first()
    assert instrument.search_name == normalise_name(instrument.name) != ""
    Instrument.objects.filter(pk=instrument.pk).update(name="旧名", search_name="旧名", name_initials="JM")
    sync(market, list_only=True)
    instrument.refresh_from_db()
    assert (instrument.search_name, instrument.name_initials) == (
        normalise_name(instrument.name),
        name_initials(instrument.name),
    )
