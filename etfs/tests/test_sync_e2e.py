"""The whole sync against the market-data simulator over HTTP (the acceptance list of issue 4).

Small on purpose (five ETFs, two stocks, one year) so it runs quickly on every database tier.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from etfs.calendar import SHANGHAI, next_trading_day, previous_trading_day
from etfs.models import Instrument, SyncRun
from etfs.providers.base import PlainBars
from etfs.providers.eastmoney import EastMoneyProvider
from etfs.simulator import server as sim_server
from etfs.simulator.market import SimConfig
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from prices.adjustments import Action, PriceAdjuster
from prices.models import CorporateAction, DailyBar, time_to_trading_date
from prices.writer import BarWriter

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 28)


@pytest.fixture
def sim(sync_host):
    config = SimConfig(n_etfs=5, n_stocks=3, years=1, today=TODAY, seed=7)
    return sync_host(config, MAX_ATTEMPTS=8, BREAKER_THRESHOLD=50)


def after_close(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(16, 0), tzinfo=SHANGHAI)


def sync(sim, kind: str = "etfs", **options) -> SyncRun:
    return run_sync(SyncOptions.parse(kind, workers=3, **options), now=after_close(sim.today))


def stored(symbol: str) -> list[tuple]:
    return [
        (time_to_trading_date(b.time), b.open, b.high, b.low, b.close, b.volume, b.amount)
        for b in DailyBar.objects.filter(instrument__symbol=symbol).order_by("time")
    ]


def truth(sim, symbol: str, adjust: str = "none") -> list[tuple]:
    return [(b.day, b.open, b.high, b.low, b.close, b.volume, b.amount) for b in sim.market.bars(symbol, adjust)]


def listed_etfs(sim) -> list[str]:
    return sorted(i.symbol.canonical for i in sim.market.listed() if i.is_etf)


def kline_requests(sim) -> int:
    return len([r for r in sim.requests() if "kline" in r.path])


def test_first_sync_equals_the_simulator_truth(sim):
    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS
    assert sorted(Instrument.objects.etfs().active().values_list("symbol", flat=True)) == listed_etfs(sim)
    for symbol in listed_etfs(sim):
        assert stored(symbol) == truth(sim, symbol)
    assert run.bars_inserted == DailyBar.objects.count()


def test_first_stock_sync_equals_the_simulator_truth(sim):
    run = sync(sim, "stocks")

    stocks = sorted(i.symbol.canonical for i in sim.market.listed() if not i.is_etf)
    assert (run.status, sorted(Instrument.objects.stocks().values_list("symbol", flat=True))) == ("success", stocks)
    for symbol in stocks:
        assert stored(symbol) == truth(sim, symbol)


def test_second_sync_writes_nothing_and_makes_no_history_request(sim):
    sync(sim)
    before = kline_requests(sim)

    run = sync(sim)

    assert (run.status, run.bars_inserted, run.bars_updated) == (SyncRun.Status.SUCCESS, 0, 0)
    assert "nothing changed" in run.message
    assert kline_requests(sim) == before


def test_next_day_adds_one_bar_per_trading_instrument_from_the_snapshot(sim):
    sync(sim)
    before, requests_before = DailyBar.objects.count(), kline_requests(sim)
    sim.set_today(next_trading_day(TODAY))
    traded = [s for s in listed_etfs(sim) if sim.market.bars(s)[-1].day == sim.today]

    run = sync(sim)

    assert (run.bars_inserted, run.bars_updated) == (len(traded), 0)
    assert DailyBar.objects.count() == before + len(traded)
    assert kline_requests(sim) == requests_before
    for symbol in listed_etfs(sim):
        assert stored(symbol) == truth(sim, symbol)


def test_revised_latest_bar_is_updated_and_counted(sim):
    sync(sim)
    symbol = next(s for s in listed_etfs(sim) if sim.market.bars(s)[-1].day == TODAY)
    sim.market.revise_bar(symbol, TODAY, volume=sim.market.bars(symbol)[-1].volume + 500)

    run = sync(sim)

    assert (run.bars_inserted, run.bars_updated) == (0, 1)
    assert stored(symbol) == truth(sim, symbol)


def test_revised_bar_in_the_overlap_is_updated_by_a_history_run(sim):
    sync(sim)
    symbol = listed_etfs(sim)[0]
    day = sim.market.bars(symbol)[-2].day
    sim.market.revise_bar(symbol, day, amount="123456.78")

    run = sync(sim, prices_only=True)

    assert (run.bars_inserted, run.bars_updated) == (0, 1)
    assert stored(symbol) == truth(sim, symbol)


def test_delisted_instrument_is_deactivated_and_keeps_its_bars(sim):
    delisted = next(i for i in sim.market.instruments() if i.is_etf and i.delist_date)
    sim.set_today(previous_trading_day(delisted.delist_date))
    sync(sim)
    kept = DailyBar.objects.filter(instrument__symbol=delisted.symbol.canonical).count()
    sim.set_today(TODAY)

    run = sync(sim)

    instrument = Instrument.objects.get(symbol=delisted.symbol.canonical)
    assert (instrument.is_active, instrument.delist_date, run.instruments_deactivated) == (False, TODAY, 1)
    assert DailyBar.objects.filter(instrument=instrument).count() >= kept


def test_faults_are_ridden_out_by_retries(sim):
    sim.config.fail_rate, sim.config.garbage_rate = 0.3, 0.05

    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS
    assert run.retries > 0
    for symbol in listed_etfs(sim):
        assert stored(symbol) == truth(sim, symbol)


def test_always_failing_instrument_gives_partial_and_exit_1_while_others_are_stored(sim, monkeypatch):
    broken = listed_etfs(sim)[1]
    secid = Instrument(code=broken[:6], exchange=broken[-2:]).parsed_symbol.secid
    original = sim_server.render_kline

    def render(market, query):
        if query.get("secid") == secid:
            raise RuntimeError("this instrument always fails")
        return original(market, query)

    monkeypatch.setattr(sim_server, "render_kline", render)

    with pytest.raises(CommandError) as error:
        call_command("sync_etfs", "--now", after_close(TODAY).isoformat(), stdout=io.StringIO(), stderr=io.StringIO())

    assert error.value.returncode == 1
    assert broken in str(error.value)
    run = SyncRun.objects.get()
    assert (run.status, run.failed_symbols) == (SyncRun.Status.PARTIAL, [broken])
    for symbol in listed_etfs(sim):
        assert stored(symbol) == ([] if symbol == broken else truth(sim, symbol))


class Killed(Exception):
    pass


def test_killed_run_resumes_without_duplicates(sim, settings):
    settings.SYNC = {**settings.SYNC, "BATCH_SIZE": 100}  # write each instrument as soon as it arrives

    def kill(phase, done, total):
        if phase == "history" and done >= 2:
            raise Killed

    with pytest.raises(Killed):
        run_sync(SyncOptions.parse("etfs", workers=1), now=after_close(TODAY), progress=kill)
    assert 0 < DailyBar.objects.count() < sum(len(truth(sim, s)) for s in listed_etfs(sim))

    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS
    for symbol in listed_etfs(sim):
        assert stored(symbol) == truth(sim, symbol)


def _adjusted(symbol: str, adjust: str, decimals: int = 3) -> list:
    actions = [
        Action(a.ex_date, a.cash, a.split_ratio) for a in CorporateAction.objects.filter(instrument__symbol=symbol)
    ]
    adjuster = PriceAdjuster(actions, adjust, decimals)
    return [
        (day, *(adjuster.price(day, price) for price in prices), volume, amount)
        for day, *prices, volume, amount in stored(symbol)
    ]


def test_adjusted_prices_equal_the_providers_for_distributions_and_splits(sim):
    sync(sim)
    with_actions = [
        i for i in sim.market.instruments() if i.is_etf and i.actions and i.symbol.canonical in listed_etfs(sim)
    ]
    assert {i.feature for i in with_actions} >= {"distribution", "split"}

    for inst in with_actions:
        symbol = inst.symbol.canonical
        days = [bar.day for bar in sim.market.bars(symbol)]
        recorded = list(CorporateAction.objects.filter(instrument__symbol=symbol).values_list("ex_date", "cash"))
        # A conversion day without trading is found on the next bar, where it takes effect.
        assert recorded == [(next(d for d in days if d >= a.ex_date), a.cash) for a in inst.actions]
        assert _adjusted(symbol, "qfq") == truth(sim, symbol, "qfq")
        assert _adjusted(symbol, "hfq") == truth(sim, symbol, "hfq")


def test_stock_actions_with_cash_and_bonus_shares_reproduce_the_providers_adjustments(sim):
    sync(sim, "stocks")
    with_actions = [i for i in sim.market.listed() if not i.is_etf and i.actions]
    assert with_actions

    for inst in with_actions:
        symbol = inst.symbol.canonical
        # 0.01-CNY quotes cannot tell cash 0.159 from 0.16 when both adjust every price alike:
        # compare what users get, the adjusted prices, and the ex-days themselves.
        ex_dates = list(CorporateAction.objects.filter(instrument__symbol=symbol).values_list("ex_date", flat=True))
        assert ex_dates == [a.ex_date for a in inst.actions]
        assert _adjusted(symbol, "qfq", 2) == truth(sim, symbol, "qfq")
        assert _adjusted(symbol, "hfq", 2) == truth(sim, symbol, "hfq")


def test_backfill_on_a_copy_backend_takes_the_plain_lane_and_stores_the_truth(sim, monkeypatch):
    answers: list[object] = []
    fetch = EastMoneyProvider.fetch_plain_daily_bars
    monkeypatch.setattr(
        EastMoneyProvider, "fetch_plain_daily_bars", lambda self, *a: answers.append(fetch(self, *a)) or answers[-1]
    )

    sync(sim)

    if BarWriter().can_copy:
        assert answers and all(isinstance(answer, PlainBars) for answer in answers)
    else:
        assert answers == []  # SQLite merges through records
    for symbol in listed_etfs(sim):
        assert stored(symbol) == truth(sim, symbol)
