from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest

from etfs.calendar import trading_days
from etfs.simulator.market import ScheduledAction, SimConfig, SimMarket
from prices.adjustments import Action, PriceAdjuster

TODAY = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(SimConfig(n_etfs=5, n_stocks=5, years=1, today=TODAY, seed=1))


def by_feature(market: SimMarket, feature: str, *, is_etf: bool = True):
    return next(i for i in market.instruments() if i.feature == feature and i.is_etf is is_etf)


def test_same_seed_gives_the_same_market():
    first = SimMarket(SimConfig(n_etfs=3, n_stocks=2, years=1, today=TODAY, seed=4))
    second = SimMarket(SimConfig(n_etfs=3, n_stocks=2, years=1, today=TODAY, seed=4))

    assert first.instruments() == second.instruments()
    assert all(first.bars(i.symbol) == second.bars(i.symbol) for i in first.instruments())


def test_another_seed_gives_other_prices():
    first = SimMarket(SimConfig(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=4))
    second = SimMarket(SimConfig(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=5))

    assert first.bars("510300.SH") != second.bars("510300.SH")


def test_instruments_have_real_looking_codes_names_and_precision(market):
    etfs = [i for i in market.instruments() if i.is_etf]
    stocks = [i for i in market.instruments() if not i.is_etf]

    assert {i.symbol.exchange for i in etfs} == {"SH", "SZ"}
    assert all(i.symbol.code[:3] in {"510", "512", "159"} and i.decimals == 3 for i in etfs)
    assert all(i.decimals == 2 and i.asset_type == "stock" for i in stocks)
    assert any("ＥＴＦ" in i.name for i in etfs) and any("Ａ" in i.name for i in stocks)


def test_etf_prices_start_from_real_levels(market):
    first_close = market.bars("510300.SH")[0].close

    assert Decimal("3.5") < first_close < Decimal("6.5")
    assert first_close.as_tuple().exponent == -3


def test_bars_are_consistent(market):
    for inst in market.instruments():
        for bar in market.bars(inst.symbol):
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.volume > 0 and bar.volume % 100 == 0
            assert bar.low * bar.volume <= bar.amount <= bar.high * bar.volume


@pytest.mark.parametrize("adjust", ["qfq", "hfq"])
def test_adjusted_prices_match_the_east_money_rules_of_prices_adjustments(market, adjust):
    for inst in market.instruments():
        adjuster = PriceAdjuster(
            [Action(a.ex_date, a.cash, a.split_ratio) for a in inst.actions], adjust, inst.decimals
        )
        raw = market.bars(inst.symbol)
        adjusted = market.bars(inst.symbol, adjust)
        for r, a in zip(raw, adjusted, strict=True):
            expected = [adjuster.price(r.day, p) for p in (r.open, r.high, r.low, r.close)]
            assert [a.open, a.high, a.low, a.close] == expected
            assert (a.volume, a.amount) == (r.volume, r.amount)


def test_distributions_and_splits_exist_and_move_raw_prices(market):
    actions = [a for i in market.instruments() for a in i.actions]

    assert any(a.cash > 0 and a.split_ratio == 1 for a in actions)
    assert any(a.split_ratio != 1 for a in actions)
    split_etf = by_feature(market, "split")
    assert market.bars(split_etf.symbol, "qfq") != market.bars(split_etf.symbol)


def test_history_quotes_ex_days_against_the_previous_raw_close(market):
    # As real East Money answers do (000157 on 2018-08-24): a raw series shows no ex-day.
    for inst in market.instruments():
        bars = market.bars(inst.symbol)
        assert all(b.prev_close == prev.close for prev, b in itertools.pairwise(bars))
    assert any(i.actions for i in market.instruments())


def test_list_quote_on_an_ex_day_carries_the_ex_reference():
    market = SimMarket(SimConfig(n_etfs=5, n_stocks=5, years=1, today=TODAY, seed=1))
    inst, action = next((i, a) for i in market.instruments() for a in i.actions if a.split_ratio == 1)
    market.set_today(action.ex_date)
    bars = market.bars(inst.symbol)

    quote = market.quote(inst.symbol)

    reference = ((bars[-2].close - action.cash) / action.split_ratio).quantize(Decimal("0.001"), ROUND_HALF_UP)
    assert (quote.day, quote.prev_close) == (action.ex_date, reference)
    assert quote.prev_close != bars[-1].prev_close == bars[-2].close


def test_conversions_at_odd_ratios_have_no_bar_on_the_conversion_day():
    market = SimMarket(SimConfig(n_etfs=60, n_stocks=0, years=1, today=TODAY, seed=1))
    conversions = [
        (i, a)
        for i in market.instruments()
        for a in i.actions
        if a.split_ratio in (Decimal("1.110680861"), Decimal("0.380231127"), Decimal("3.834928"))
    ]

    assert conversions
    for inst, action in conversions:
        assert action.ex_date not in {b.day for b in market.bars(inst.symbol)}


def test_scheduled_actions_happen_on_their_day():
    day = dt.date(2024, 6, 20)
    config = SimConfig(
        n_etfs=2,
        n_stocks=0,
        years=1,
        today=TODAY,
        seed=1,
        scheduled=(ScheduledAction("510300", day, cash_share=Decimal("0.02"), split_ratio=Decimal(2), trades=False),),
    )

    inst = SimMarket(config).instrument("510300.SH")

    action = next(a for a in inst.actions if a.ex_date == day)
    assert action.split_ratio == 2 and action.cash > 0
    assert day not in {b.day for b in SimMarket(config).bars("510300.SH")}


def test_ordinary_days_are_quoted_against_the_previous_close(market):
    inst = by_feature(market, "distribution")
    bars = market.bars(inst.symbol)
    ex_dates = {a.ex_date for a in inst.actions}

    assert all(b.prev_close == prev.close for prev, b in itertools.pairwise(bars) if b.day not in ex_dates)


def test_suspended_instrument_has_no_bars_on_its_suspended_days(market):
    inst = by_feature(market, "suspended")
    days = {b.day for b in market.bars(inst.symbol)}

    missing = [d for d in trading_days(inst.list_date, TODAY) if d not in days]
    assert TODAY in missing and len(missing) >= 6


def test_delisted_instrument_leaves_the_list_after_its_delist_date(market):
    inst = by_feature(market, "delisted")

    assert inst.delist_date < TODAY
    assert market.bars(inst.symbol)[-1].day == inst.delist_date
    assert inst.symbol not in {i.symbol for i in market.listed()}
    assert inst.symbol in {i.symbol for i in market.listed(inst.delist_date)}


def test_late_listing_starts_trading_on_its_list_date(market):
    inst = by_feature(market, "late")

    assert market.bars(inst.symbol)[0].day == inst.list_date > market.start
    assert inst.symbol not in {i.symbol for i in market.listed(inst.list_date - dt.timedelta(days=1))}


def test_moving_today_forward_adds_bars_and_keeps_history():
    market = SimMarket(SimConfig(n_etfs=2, n_stocks=0, years=1, today=TODAY, seed=2))
    before = market.bars("510300.SH")

    market.set_today(dt.date(2024, 7, 1))

    after = market.bars("510300.SH")
    assert after[:-1] == before and after[-1].day == dt.date(2024, 7, 1)


def test_moving_today_past_the_generated_horizon_keeps_history():
    market = SimMarket(SimConfig(n_etfs=2, n_stocks=0, years=1, today=TODAY, seed=2))
    before = market.bars("159919.SZ")

    market.set_today(dt.date(2026, 1, 5))

    assert market.bars("159919.SZ")[: len(before)] == before


def test_revised_bar_changes_and_the_next_day_is_quoted_against_it():
    market = SimMarket(SimConfig(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=2))
    day, next_day = (b.day for b in market.bars("510300.SH")[-3:-1])

    market.revise_bar("510300.SH", day, volume=1234500, close="4.321", high="9.999")

    bars = {b.day: b for b in market.bars("510300.SH")}
    assert (bars[day].volume, bars[day].close, bars[next_day].prev_close) == (
        1234500,
        Decimal("4.321"),
        Decimal("4.321"),
    )


def test_revising_volume_to_an_odd_lot_is_refused(market):
    with pytest.raises(ValueError, match="multiple of 100"):
        market.revise_bar("510300.SH", market.bars("510300.SH")[-1].day, volume=1234567)


def test_last_bar_without_the_series_equals_the_last_bar_of_the_series():
    def fresh() -> SimMarket:
        return SimMarket(SimConfig(n_etfs=5, n_stocks=5, years=1, today=TODAY, seed=1))

    quick = fresh()
    latest = {i.symbol: quick.last_bar(i.symbol) for i in quick.instruments()}

    full = fresh()
    assert latest == {i.symbol: full.bars(i.symbol)[-1] for i in full.instruments()}


def test_last_bar_follows_a_revised_previous_close():
    market = SimMarket(SimConfig(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=2))
    market.revise_bar("510300.SH", dt.date(2024, 6, 27), close="4.444")

    assert market.last_bar("510300.SH").prev_close == Decimal("4.444")
