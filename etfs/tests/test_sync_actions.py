"""Ex-days: the snapshot's hint, the provider's qfq series, recording, and adjusted prices
that match the provider's own."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from etfs.calendar import SHANGHAI, trading_days
from etfs.providers.base import Adjust, PriceTicks
from etfs.symbols import parse_symbol
from etfs.sync.actions import Findings, derive_action, record_actions, snap_ratio
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from etfs.sync.steps import find_actions
from etfs.tests.factories import InstrumentFactory
from etfs.tests.fake_provider import FakeInstrument, FakeProvider, fake_market, hfq_bar, make_bars, qfq_bar
from prices.adjustments import Action, PriceAdjuster
from prices.models import CorporateAction, DailyBar, time_to_trading_date, trading_date_to_time

DAY = dt.date(2024, 6, 3)


def test_no_action_when_reference_equals_previous_close():
    assert derive_action(DAY, Decimal("3.500"), Decimal("3.500"), 3) is None


def test_no_action_without_a_reference():
    assert derive_action(DAY, Decimal("3.500"), None, 3) is None


def test_small_drop_is_a_cash_distribution():
    assert derive_action(DAY, Decimal("3.500"), Decimal("3.450"), 3) == Action(DAY, cash=Decimal("0.0500"))


def test_halving_is_a_two_for_one_split():
    assert derive_action(DAY, Decimal("4.215"), Decimal("2.108"), 3) == Action(DAY, split_ratio=Decimal("2.000000"))


def test_rise_is_a_share_merge():
    assert derive_action(DAY, Decimal("0.813"), Decimal("2.439"), 3) == Action(DAY, split_ratio=Decimal("0.333333"))


def test_large_drop_reads_as_a_conversion_not_cash():
    # 159919 converted at 1.110680861 (first bar after it 2019-01-14): a 10 % drop is no distribution.
    hint = derive_action(dt.date(2019, 1, 14), Decimal("3.408"), Decimal("3.068"), 3)

    assert (hint.cash, hint.split_ratio) == (Decimal(0), Decimal("1.110821"))


def test_odd_conversion_keeps_the_measured_ratio():
    # 512010 on 2021-06-28: 3.206 -> 0.836 (a 1:3.8349 conversion), no small fraction fits.
    assert snap_ratio(Decimal("3.206"), Decimal("0.836"), 3) == Decimal("3.834928")


@pytest.mark.django_db
def test_record_actions_never_overwrites_a_curated_row():
    instrument = InstrumentFactory()
    CorporateAction.objects.create(
        instrument=instrument, ex_date=DAY, cash=Decimal("0.0510"), source=CorporateAction.Source.MANUAL
    )

    changes = record_actions({instrument.pk: Findings([Action(DAY, cash=Decimal("0.0500"))])})

    assert changes.count == 0
    assert CorporateAction.objects.get().cash == Decimal("0.0510")


@pytest.mark.django_db
def test_history_sync_records_the_distribution_and_the_split():
    market = fake_market()

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))

    assert list(CorporateAction.objects.values_list("instrument__symbol", "ex_date", "cash", "split_ratio")) == [
        ("159919.SZ", dt.date(2024, 6, 3), Decimal("0.0000"), Decimal("2.000000")),
        ("510300.SH", dt.date(2024, 5, 20), Decimal("0.0500"), Decimal("1.000000")),
    ]


@pytest.mark.django_db
def test_distribution_on_the_snapshot_day_is_recorded_through_history():
    market = fake_market(today=dt.date(2024, 5, 17))
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 17, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 5, 20)

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 20, 16, tzinfo=SHANGHAI))

    action = CorporateAction.objects.get()
    assert (action.instrument.symbol, action.ex_date, action.cash) == (
        "510300.SH",
        dt.date(2024, 5, 20),
        Decimal("0.05"),
    )
    assert action.source == CorporateAction.Source.PROVIDER


def _east_money_qfq(bars, actions, decimals):
    """The provider's rule, written independently: p -> (p - cash) / ratio per later action."""
    quantum = Decimal(1).scaleb(-decimals)
    result = {}
    for bar in bars:
        price = bar.close
        for action in sorted(actions, key=lambda a: a.ex_date):
            if action.ex_date > bar.day:
                price = (price - action.cash) / action.split_ratio
        result[bar.day] = price.quantize(quantum, rounding=ROUND_HALF_UP)
    return result


@pytest.mark.django_db
def test_qfq_from_stored_actions_equals_the_provider_rule():
    market = fake_market()
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))

    for symbol in ("510300.SH", "159919.SZ"):
        actions = [
            Action(a.ex_date, a.cash, a.split_ratio) for a in CorporateAction.objects.filter(instrument__symbol=symbol)
        ]
        adjuster = PriceAdjuster(actions, "qfq", 3)
        ours = {
            time_to_trading_date(b.time): adjuster.price(time_to_trading_date(b.time), b.close)
            for b in DailyBar.objects.filter(instrument__symbol=symbol)
        }
        assert ours == _east_money_qfq(market.visible(symbol), market.instruments[symbol].actions, 3)


@pytest.mark.django_db
def test_snapshot_ex_day_costs_the_qfq_and_the_hfq_request_only():
    market = fake_market(today=dt.date(2024, 5, 17))
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 17, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 5, 20)
    before = (len(market.history_requests), len(market.adjusted_requests), market.list_requests)

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 20, 16, tzinfo=SHANGHAI))

    after = (len(market.history_requests), len(market.adjusted_requests), market.list_requests)
    assert [b - a for a, b in zip(before, after, strict=True)] == [0, 2, 1]  # raw is stored; today's bar is the list's
    assert {request[0] for request in market.adjusted_requests[before[1] :]} == {"510300.SH"}


@pytest.mark.django_db
def test_snapshot_ex_day_writes_the_lists_bar():
    market = fake_market(today=dt.date(2024, 5, 17))
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 17, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 5, 20)

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 20, 16, tzinfo=SHANGHAI))

    stored = DailyBar.objects.get(instrument__symbol="510300.SH", time=trading_date_to_time(dt.date(2024, 5, 20)))
    truth = market.visible("510300.SH")[-1]
    assert (stored.open, stored.high, stored.low, stored.close, stored.volume) == (
        truth.open,
        truth.high,
        truth.low,
        truth.close,
        truth.volume,
    )


def _sub_tick_cash_stock(cash: dict[dt.date, str], today: dt.date) -> FakeProvider:
    """A stock quoted to 0.01 paying cash in 0.001 (0.346): qfq rounds the sums of later cash to a
    cent, hfq those of earlier cash, so the qfq series alone cannot tell 0.346 from 0.35."""
    truth = [Action(day, cash=Decimal(value)) for day, value in cash.items()]
    bars = make_bars(trading_days(dt.date(2023, 1, 3), dt.date(2024, 7, 5)), base="25.00", decimals=2, seed=5)
    stock = FakeInstrument(parse_symbol("600000.SH"), "浦发银行", bars, is_etf=False, decimals=2, actions=truth)
    return FakeProvider([stock], today=today)


def _wrong_hfq_days(market: FakeProvider, symbol: str) -> list[dt.date]:
    item = market.instruments[symbol]
    adjuster = PriceAdjuster(
        [Action(a.ex_date, a.cash, a.split_ratio) for a in CorporateAction.objects.filter(instrument__symbol=symbol)],
        "hfq",
        item.decimals,
    )
    done = [a for a in item.actions if a.ex_date <= market.today]
    return [
        bar.day
        for bar in market.visible(symbol)
        if adjuster.price(bar.day, bar.close) != hfq_bar(bar, done, item.decimals).close
    ]


@pytest.mark.django_db
def test_backfill_leaves_hfq_open_where_the_qfq_series_cannot_settle_sub_tick_cash():
    # Two requests (raw, qfq) cannot pin three series: the cash sums round one way in qfq, the other in hfq.
    cash = {dt.date(2023, 6, 1): "0.346", dt.date(2024, 1, 10): "0.346"}
    market = _sub_tick_cash_stock(cash, today=dt.date(2024, 6, 28))

    run_sync(SyncOptions.parse("stocks"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))

    assert _wrong_hfq_days(market, "600000.SH")
    assert len(market.adjusted_requests) == 1


@pytest.mark.django_db
def test_next_ex_day_on_the_snapshot_path_pins_hfq_of_the_whole_history():
    cash = {dt.date(2023, 6, 1): "0.346", dt.date(2024, 1, 10): "0.346", dt.date(2024, 7, 1): "0.344"}
    market = _sub_tick_cash_stock(cash, today=dt.date(2024, 6, 28))
    run_sync(SyncOptions.parse("stocks"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 7, 1)

    run_sync(SyncOptions.parse("stocks"), provider=market, now=dt.datetime(2024, 7, 1, 16, tzinfo=SHANGHAI))

    assert _wrong_hfq_days(market, "600000.SH") == []
    assert [a.ex_date for a in CorporateAction.objects.order_by("ex_date")] == list(cash)


@pytest.mark.django_db
def test_snapshot_ex_day_without_the_hfq_series_keeps_the_qfq_terms():
    market = fake_market(today=dt.date(2024, 5, 17))
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 17, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 5, 20)
    market.failing_series.add(("510300.SH", Adjust.HFQ))

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 20, 16, tzinfo=SHANGHAI))

    action = CorporateAction.objects.get()
    assert (action.ex_date, action.cash, action.source) == (
        dt.date(2024, 5, 20),
        Decimal("0.05"),
        CorporateAction.Source.PROVIDER,
    )
    assert DailyBar.objects.filter(instrument__symbol="510300.SH", time=trading_date_to_time(dt.date(2024, 5, 20)))


def test_qfq_series_recovers_a_bonus_issue_with_cash():
    days = trading_days(dt.date(2024, 1, 2), dt.date(2024, 3, 29))
    truth = Action(dt.date(2024, 3, 1), cash=Decimal("0.15"), split_ratio=Decimal("1.5"))
    bars = make_bars(days, base="12.30", decimals=2, actions=[truth], seed=3)

    found = find_actions(PriceTicks.from_bars(bars, 2), PriceTicks.from_bars([qfq_bar(b, [truth], 2) for b in bars], 2))

    assert found == [truth]


@pytest.mark.django_db
def test_new_ex_day_with_cash_and_bonus_shares_is_settled_by_the_qfq_series():
    ex_day = dt.date(2024, 7, 1)
    truth = Action(ex_day, cash=Decimal("0.15"), split_ratio=Decimal("1.5"))
    days = trading_days(dt.date(2024, 2, 1), dt.date(2024, 7, 5))
    bars = make_bars(days, base="12.30", decimals=2, actions=[truth], seed=4)
    stock = FakeInstrument(parse_symbol("600519.SH"), "贵州茅台", bars, is_etf=False, decimals=2, actions=[truth])
    market = FakeProvider([stock], today=dt.date(2024, 6, 28))
    run_sync(SyncOptions.parse("stocks"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))
    market.today = ex_day

    run_sync(SyncOptions.parse("stocks"), provider=market, now=dt.datetime(2024, 7, 1, 16, tzinfo=SHANGHAI))

    action = CorporateAction.objects.get()
    assert (action.ex_date, action.cash, action.split_ratio) == (ex_day, Decimal("0.15"), Decimal("1.5"))
    # Both whole adjusted series (a new ex-day can reveal the exact terms of older ones); raw is stored.
    assert market.adjusted_requests[-2:] == [("600519.SH", dt.date(2024, 2, 1), None)] * 2
    assert market.history_requests[-1] == ("600519.SH", None, dt.date(2024, 6, 28))  # the backfill's


def _qfq_off_on_the_last_week(market: FakeProvider, symbol: str) -> None:
    """The provider's qfq series of ``symbol`` five ticks above raw on its newest five days: no action
    explains it (nothing lies after the newest day)."""
    read = market.fetch_price_ticks

    def fetch(instrument, start=None, end=None, adjust=Adjust.QFQ):
        ticks = read(instrument, start, end, adjust)
        if instrument.canonical == symbol and adjust == Adjust.QFQ:
            ticks.ticks[-5:] += 5
        return ticks

    market.fetch_price_ticks = fetch


@pytest.mark.django_db
def test_a_qfq_series_nothing_explains_keeps_every_raw_bar_and_fails_the_instrument_for_its_adjustments():
    market = fake_market()  # 159919.SZ splits 1:2 on 2024-06-03
    _qfq_off_on_the_last_week(market, "159919.SZ")

    run = run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))

    stored = DailyBar.objects.filter(instrument__symbol="159919.SZ").count()
    assert stored == len(market.visible("159919.SZ"))  # the split day too: the series shows it stepping
    assert run.status == "partial"
    (error,) = [e for e in run.errors if e["symbol"] == "159919.SZ"]
    assert error["error"].startswith("adjustments not updated: the qfq series does not fit the raw one")
    assert not CorporateAction.objects.filter(instrument__symbol="159919.SZ").exists()
