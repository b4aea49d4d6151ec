"""The fund-data phase end to end against the simulator: NAV, shares, facts, universe (issue 15).

Small (ten ETFs on East Money's boards, four only on the exchanges' lists, one year) so it
runs on every tier; only the test thread touches the database.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from decimal import Decimal as D

import pytest

from etfs.calendar import SHANGHAI, next_trading_day, shift_trading_days
from etfs.funds import FundProfile, t0_for
from etfs.models import Instrument, SyncRun
from etfs.simulator.market import SimConfig
from etfs.simulator.server import KLINE_PATH, LIST_PATH
from etfs.simulator.tables import FUND_SPLITS_PATH, STOCK_BONUS_PATH
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from prices.fund_queries import nav_rows, shares_rows
from prices.models import DailyBar, FundNav, FundQuote, FundShares, time_to_trading_date

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 28)
PRICE_PATHS = (LIST_PATH, KLINE_PATH, FUND_SPLITS_PATH, STOCK_BONUS_PATH)  # the tables serve the bars' adjustments
SHARES_DAYS = 30
SHARES_FROM = shift_trading_days(TODAY, SHARES_DAYS)


@pytest.fixture
def sim(settings, sync_host):
    config = SimConfig(n_etfs=10, n_stocks=0, years=1, today=TODAY, seed=7, exchange_only_etfs=4)
    simulator = sync_host(config, MAX_ATTEMPTS=3, BACKOFF_BASE=0.001, BACKOFF_MAX=0.005, BREAKER_THRESHOLD=50)
    settings.FUNDDATA = {
        **settings.FUNDDATA,
        "ENABLED": True,
        **simulator.fund_urls(),
        "SHARES_BACKFILL_DAYS": SHARES_DAYS,  # SSE answers one day a request: keep the test quick
    }
    return simulator


def sync(sim, **options) -> SyncRun:
    now = dt.datetime.combine(sim.today, dt.time(16, 0), tzinfo=SHANGHAI)
    return run_sync(SyncOptions.parse("etfs", workers=3, **options), now=now)


def fund_requests(sim, since: int = 0) -> list:
    return [r for r in sim.requests()[since:] if r.path not in PRICE_PATHS]


def stored_navs(symbol: str) -> list[tuple]:
    rows = FundNav.objects.filter(instrument__symbol=symbol).order_by("time")
    return [(time_to_trading_date(r.time), r.unit_nav, r.accumulated_nav) for r in rows]


def true_navs(sim, symbol: str) -> list[tuple]:
    return [(n.day, n.unit_nav, n.accumulated_nav) for n in sim.funds.navs(symbol)]


def stored_shares(symbol: str) -> list[tuple]:
    rows = FundShares.objects.filter(instrument__symbol=symbol).order_by("time")
    return [(time_to_trading_date(r.time), r.shares) for r in rows]


def etf_symbols(sim) -> list[str]:
    """The ETFs listed today (delisted ones never reach the database in a first sync)."""
    return sorted(i.symbol.canonical for i in sim.funds.listed_etfs())


def assert_fund_data_equals_truth(sim) -> None:
    for symbol in etf_symbols(sim):
        assert stored_navs(symbol) == true_navs(sim, symbol), symbol
        assert stored_shares(symbol) == [s for s in sim.funds.shares(symbol) if s[0] >= SHARES_FROM], symbol


def test_backfill_stores_every_nav_and_share_count_of_the_simulator(sim):
    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS, run.message
    assert_fund_data_equals_truth(sim)


def test_daily_update_keeps_nav_and_shares_equal_to_the_simulator(sim):
    sync(sim)
    sim.set_today(next_trading_day(TODAY))
    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS, run.message
    assert_fund_data_equals_truth(sim)


def test_a_skipped_week_is_filled_by_history_requests(sim):
    sync(sim)
    later = TODAY
    for _ in range(5):
        later = next_trading_day(later)
    sim.set_today(later)
    run = sync(sim)

    assert run.fund_report["nav"]["history_requests"] > 0
    assert_fund_data_equals_truth(sim)


def test_facts_equal_the_simulator_truth(sim):
    sync(sim)

    for symbol in etf_symbols(sim):
        facts = sim.funds.facts(symbol)
        profile = FundProfile.objects.get(instrument__symbol=symbol)
        stored = (
            profile.fund_company,
            profile.custodian,
            profile.category,
            profile.inception_date,
            profile.management_fee,
            profile.custody_fee,
            profile.tracking_index_name,
            profile.t0,
        )
        truth = (
            facts.company,
            facts.custodian,
            facts.category,
            facts.inception,
            facts.management_fee,
            facts.custody_fee,
            facts.index_name,
            t0_for(facts.category),
        )
        assert stored == truth, symbol


def test_facts_are_read_again_only_once_a_week(sim):
    sync(sim)
    sim.set_today(next_trading_day(TODAY))
    next_day = sync(sim)
    sim.set_today(next_trading_day(TODAY + dt.timedelta(days=7)))  # the first trading day a week on

    refreshed = sync(sim)

    assert next_day.fund_report["facts"]["refreshed"] == 0
    assert refreshed.fund_report["facts"]["refreshed"] == len(etf_symbols(sim))


def test_tracking_index_code_and_listing_date_come_from_the_exchange_lists(sim):
    sync(sim)

    for inst in sim.funds.listed_etfs():
        instrument = Instrument.objects.get(symbol=inst.symbol.canonical)
        assert instrument.list_date == inst.list_date
        if inst.symbol.exchange == "SH":  # SZSE's list carries no index code
            assert instrument.fund.tracking_index_code == sim.funds.facts(inst.symbol).index_code


def test_premium_is_close_over_nav_minus_one_on_every_day(sim):
    sync(sim)

    checked = 0
    for symbol in etf_symbols(sim):
        instrument = Instrument.objects.get(symbol=symbol)
        closes = {bar.day: bar.close for bar in sim.market.bars(symbol)}
        for row in nav_rows(instrument.id):
            close = closes.get(row.date)
            expected = (
                None if close is None else (close / row.unit_nav - 1).quantize(Decimal("0.000001"), ROUND_HALF_UP)
            )
            assert (row.close, row.premium) == (close, expected), (symbol, row.date)
            checked += row.premium is not None
    assert checked > 1000


def test_flow_is_the_change_in_shares_times_nav(sim):
    sync(sim)
    instrument = Instrument.objects.get(symbol="510300.SH")
    navs = {n.day: n.unit_nav for n in sim.funds.navs("510300.SH")}
    truth = [s for s in sim.funds.shares("510300.SH") if s[0] >= SHARES_FROM]

    rows = shares_rows(instrument.id)

    pairs = zip(truth, truth[1:], strict=False)
    expected = [None] + [((s - p) * navs[d]).quantize(Decimal("0.01")) for (_, p), (d, s) in pairs]
    assert [r.flow for r in rows] == expected


def test_etfs_missing_from_east_money_boards_are_synced_from_the_exchange_lists(sim):
    run = sync(sim)

    hidden = [i for i in sim.funds.listed_etfs() if not any(t.startswith("b:") for t in i.tags)]
    assert hidden
    for inst in hidden:
        instrument = Instrument.objects.get(symbol=inst.symbol.canonical)
        assert (instrument.exchange, instrument.is_active, instrument.is_etf) == (inst.symbol.exchange, True, True)
        bars = [(time_to_trading_date(b.time), b.close) for b in DailyBar.objects.filter(instrument=instrument)]
        assert sorted(bars) == [(b.day, b.close) for b in sim.market.bars(inst.symbol)]
    assert run.fund_report["universe"]["only_exchange"] == sorted(i.symbol.canonical for i in hidden)


def test_exchange_only_etfs_stay_active_when_their_exchange_list_is_down(sim):
    sync(sim)
    sim.config.outages = {"szse"}
    sync(sim)

    assert Instrument.objects.get(symbol="159934.SZ").is_active


def test_universe_equals_the_union_of_the_lists(sim):
    sync(sim)

    stored = sorted(Instrument.objects.etfs().active().values_list("symbol", flat=True))
    assert stored == sorted(i.symbol.canonical for i in sim.funds.listed_etfs())


def test_backfill_spends_at_most_one_nav_request_per_etf(sim):
    sync(sim)

    nav_pages = [r for r in fund_requests(sim) if r.path.startswith("/pingzhongdata/")]
    assert len(nav_pages) <= len(sim.funds.listed_etfs())
    assert len({r.path for r in nav_pages}) == len(nav_pages)


def test_daily_update_of_nav_and_shares_takes_at_most_ten_requests(sim):
    sync(sim)
    sim.set_today(next_trading_day(TODAY))
    before = len(sim.requests())

    run = sync(sim)

    requests = fund_requests(sim, before)
    assert run.fund_report["nav"]["history_requests"] == 0
    assert len(requests) <= 10, [r.path for r in requests]


def test_a_share_conversion_moves_unit_nav_and_not_accumulated_nav(sim):
    sync(sim)
    split = next(i for i in sim.funds.listed_etfs() if any(a.split_ratio != 1 for a in i.actions))
    action = next(a for a in split.actions if a.split_ratio != 1)
    navs = stored_navs(split.symbol.canonical)
    at = next(k for k, row in enumerate(navs) if row[0] == action.ex_date)
    (_, unit_before, acc_before), (_, unit_after, acc_after) = navs[at - 1], navs[at]

    assert abs(unit_after / unit_before - 1 / action.split_ratio) < D("0.1") / action.split_ratio
    assert abs(acc_after / acc_before - 1) < D("0.05")


def test_a_revised_nav_is_updated(sim):
    sync(sim)
    nav = sim.funds.navs("510300.SH")[-1]
    sim.funds.revise_nav("510300.SH", nav.day, nav.unit_nav + Decimal("0.0123"))

    run = sync(sim)

    assert run.fund_report["nav"]["updated"] == 1
    assert stored_navs("510300.SH") == true_navs(sim, "510300.SH")


def test_cross_border_navs_published_late_are_stored_when_they_appear(sim):
    sync(sim)
    lagging = [s for s in etf_symbols(sim) if sim.funds.facts(s).nav_lag]
    assert lagging
    latest_before = {s: stored_navs(s)[-1][0] for s in lagging}
    sim.set_today(next_trading_day(TODAY))

    sync(sim)

    for symbol in lagging:
        assert stored_navs(symbol)[-1][0] > latest_before[symbol]
        assert stored_navs(symbol) == true_navs(sim, symbol)


def test_closing_iopv_and_east_moneys_premium_are_stored(sim):
    sync(sim)

    quote = FundQuote.objects.get(instrument__symbol="510300.SH")
    assert time_to_trading_date(quote.time) == TODAY
    assert quote.iopv == sim.market.last_bar("510300.SH").close


def test_a_fund_host_down_leaves_prices_syncing(sim):
    sim.config.outages = {"eastmoney_fund", "sse", "szse"}

    run = sync(sim)

    assert run.status == SyncRun.Status.PARTIAL
    assert run.fund_report["errors"]
    for inst in sim.market.listed():
        if any(t.startswith("b:") for t in inst.tags):
            stored = DailyBar.objects.filter(instrument__symbol=inst.symbol.canonical).count()
            assert stored == len(sim.market.bars(inst.symbol))


def test_a_price_host_down_leaves_fund_data_syncing(sim):
    sync(sim)
    sim.set_today(next_trading_day(TODAY))
    sim.config.outages = {"eastmoney"}

    run = sync(sim)

    assert run.status in (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL)
    assert_fund_data_equals_truth(sim)


def test_a_curated_fact_is_never_overwritten(sim):
    sync(sim)
    profile = FundProfile.objects.get(instrument__symbol="510300.SH")
    profile.fund_company = "手工基金"
    profile.lock("fund_company")
    profile.save()

    sync(sim, full=True)

    assert FundProfile.objects.get(instrument__symbol="510300.SH").fund_company == "手工基金"


def test_funds_false_skips_the_fund_phase(sim):
    run = sync(sim, funds=False)

    assert fund_requests(sim) == []
    assert FundNav.objects.count() == 0
    assert run.status == SyncRun.Status.SUCCESS
