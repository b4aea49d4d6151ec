"""Ex-days: the snapshot's hint, the provider's qfq series, recording, and adjusted prices
that match the provider's own."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from etfs.calendar import SHANGHAI, trading_days
from etfs.providers.base import PriceTicks
from etfs.symbols import parse_symbol
from etfs.sync.actions import Findings, derive_action, record_actions, snap_ratio
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from etfs.sync.steps import find_actions
from etfs.tests.factories import InstrumentFactory
from etfs.tests.fake_provider import FakeInstrument, FakeProvider, fake_market, make_bars, qfq_bar
from prices.adjustments import Action, PriceAdjuster
from prices.models import CorporateAction, DailyBar, time_to_trading_date

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
def test_snapshot_ex_day_costs_the_raw_and_the_qfq_request_only():
    market = fake_market(today=dt.date(2024, 5, 17))
    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 17, 16, tzinfo=SHANGHAI))
    market.today = dt.date(2024, 5, 20)
    before = (len(market.history_requests), len(market.adjusted_requests), market.list_requests)

    run_sync(SyncOptions.parse("etfs"), provider=market, now=dt.datetime(2024, 5, 20, 16, tzinfo=SHANGHAI))

    after = (len(market.history_requests), len(market.adjusted_requests), market.list_requests)
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]
    assert market.history_requests[-1][0] == market.adjusted_requests[-1][0] == "510300.SH"


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
    # Both whole series: a new ex-day can reveal the exact terms of older ones.
    assert market.adjusted_requests[-1] == ("600519.SH", dt.date(2024, 2, 1), None)
    assert market.history_requests[-1] == ("600519.SH", None, ex_day)
