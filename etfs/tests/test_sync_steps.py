"""Ex-days read from the provider's qfq series (``etfs.sync.steps``) and how they are recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest

from etfs.calendar import trading_days
from etfs.providers.base import BarRecord, PriceTicks
from etfs.simulator.market import ScheduledAction, SimConfig, SimMarket
from etfs.sync.actions import Findings, record_actions
from etfs.sync.steps import SeriesMismatch, find_actions, mismatched_days, pin_with_hfq, step_days
from etfs.tests.factories import InstrumentFactory
from etfs.tests.fake_provider import make_bars, qfq_bar
from prices.adjustments import Action
from prices.models import CorporateAction

DAYS = trading_days(dt.date(2024, 1, 2), dt.date(2024, 6, 28))
DAYS_2023 = trading_days(dt.date(2023, 1, 3), dt.date(2024, 7, 1))


def hfq_bar(bar: BarRecord, actions: list[Action], decimals: int) -> BarRecord:
    """East Money's backward adjustment, written here independently: p -> p * ratio + cash."""

    def adjust(price: Decimal) -> Decimal:
        for action in sorted(actions, key=lambda a: a.ex_date, reverse=True):
            if action.ex_date <= bar.day:
                price = price * action.split_ratio + action.cash
        return price.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)

    return BarRecord(bar.day, *(adjust(p) for p in (bar.open, bar.high, bar.low, bar.close)), bar.volume, bar.amount)


def series(actions: list[Action], *, base: str = "3.500", decimals: int = 3, seed: int = 1, days=DAYS):
    bars = make_bars(days, base=base, decimals=decimals, actions=actions, seed=seed)
    raw = PriceTicks.from_bars(bars, decimals)
    qfq = PriceTicks.from_bars([qfq_bar(b, actions, decimals) for b in bars], decimals)
    hfq = PriceTicks.from_bars([hfq_bar(b, actions, decimals) for b in bars], decimals)
    return raw, qfq, hfq


def test_cash_distribution_is_the_step_of_raw_minus_qfq():
    truth = [Action(dt.date(2024, 3, 4), cash=Decimal("0.052"))]
    raw, qfq, _ = series(truth)

    assert find_actions(raw, qfq) == truth


def test_round_split_is_the_step_of_raw_over_qfq():
    truth = [Action(dt.date(2024, 2, 5), split_ratio=Decimal(4)), Action(dt.date(2024, 5, 6), cash=Decimal("0.011"))]
    raw, qfq, _ = series(truth, base="3.206")

    assert find_actions(raw, qfq) == truth


def test_cash_and_bonus_shares_on_one_day_are_both_found():
    truth = [Action(dt.date(2024, 4, 1), cash=Decimal("0.15"), split_ratio=Decimal("1.3"))]
    raw, qfq, _ = series(truth, base="12.30", decimals=2)

    assert find_actions(raw, qfq) == truth


def test_odd_conversion_without_a_bar_that_day_is_dated_on_the_next_bar_and_reproduces_qfq():
    conversion = dt.date(2024, 3, 11)
    truth = [Action(conversion, split_ratio=Decimal("1.110680861"))]
    days = [day for day in DAYS if day != conversion]
    raw, qfq, _ = series(truth, base="3.408", days=days)

    (found,) = find_actions(raw, qfq)

    assert found.ex_date == dt.date(2024, 3, 12) and found.cash == 0
    assert abs(found.split_ratio - Decimal("1.110680861")) < Decimal("0.0001")
    assert mismatched_days(raw, qfq, [found], "qfq") == []


def test_a_stored_action_that_still_explains_the_series_is_kept():
    truth = Action(dt.date(2024, 3, 11), split_ratio=Decimal("1.110680861"))
    raw, qfq, _ = series([truth], base="3.408")

    assert find_actions(raw, qfq, known=[truth]) == [truth]


def test_a_stored_action_on_a_day_without_a_bar_keeps_its_day_with_corrected_terms():
    curated = Action(dt.date(2024, 3, 9), split_ratio=Decimal(3))  # a Saturday, wrong ratio
    truth = Action(dt.date(2024, 3, 11), split_ratio=Decimal(2))
    raw, qfq, _ = series([truth])

    assert find_actions(raw, qfq, known=[curated]) == [Action(dt.date(2024, 3, 9), split_ratio=Decimal(2))]


def test_actions_after_the_last_raw_day_apply_as_one_step_dated_on_the_providers_next_day():
    truth = [Action(dt.date(2024, 6, 20), cash=Decimal("0.1")), Action(dt.date(2024, 6, 26), cash=Decimal("0.05"))]
    raw, qfq, _ = series(truth)
    cut = PriceTicks(raw.days[:-10], raw.ticks[:-10], 3)

    assert find_actions(cut, qfq) == [Action(raw.days[-10], cash=Decimal("0.15"))]


def test_a_series_nothing_inside_it_explains_is_refused():
    truth = [Action(dt.date(2024, 6, 20), cash=Decimal("0.1"))]
    raw, qfq, _ = series(truth)
    early = PriceTicks(qfq.days[:50], qfq.ticks[:50], 3)

    with pytest.raises(SeriesMismatch):
        find_actions(PriceTicks(raw.days[:50], raw.ticks[:50], 3), early)


def test_hfq_pins_a_stocks_cash_below_its_quote():
    # 0.01-CNY quotes: qfq cannot tell 3.346 from 3.35 (nor 3.65 from 3.645 before a 1:1.5
    # bonus issue); hfq can. A simulated stock, since the terms need real price variation.
    ex_day = dt.date(2024, 7, 8)
    config = SimConfig(n_etfs=0, n_stocks=3, years=2, today=dt.date(2024, 6, 28), seed=11)
    market = SimMarket(dataclasses.replace(config, scheduled=(ScheduledAction("300750", ex_day, Decimal("0.012")),)))
    market.set_today(dt.date(2024, 7, 17))
    raw, qfq, hfq = (PriceTicks.from_bars(market.bars("300750.SZ", adjust), 2) for adjust in ("none", "qfq", "hfq"))
    found = find_actions(raw, qfq)
    assert mismatched_days(raw, qfq, found, "qfq") == [] != mismatched_days(raw, hfq, found, "hfq")

    pinned = pin_with_hfq(raw, qfq, hfq, found)

    assert mismatched_days(raw, qfq, pinned, "qfq") == mismatched_days(raw, hfq, pinned, "hfq") == []


def test_a_reverse_conversion_read_a_hair_off_is_re_read_from_the_days_before_it():
    # 1:0.380231127 after cash payments: the middle of what the days up to the previous cash
    # allow is off by 2e-7, and every earlier price, multiplied by 2.6, then fits no cash.
    scheduled = (
        ScheduledAction("510300", dt.date(2022, 11, 4), cash_share=Decimal("0.025")),
        ScheduledAction("510300", dt.date(2023, 5, 26), split_ratio=Decimal("0.380231127"), trades=False),
        ScheduledAction("510300", dt.date(2024, 2, 7), cash_share=Decimal("0.02")),
    )
    market = SimMarket(
        SimConfig(n_etfs=1, n_stocks=0, years=3, today=dt.date(2024, 6, 28), seed=1, scheduled=scheduled)
    )
    raw, qfq = (PriceTicks.from_bars(market.bars("510300.SH", adjust), 3) for adjust in ("none", "qfq"))

    found = find_actions(raw, qfq)

    assert mismatched_days(raw, qfq, found, "qfq") == []
    assert len(found) == len(market.instrument("510300.SH").actions)


def _pinned_wrong(truth: list[Action], **kwargs) -> tuple[int, int, int]:
    """Days hfq gets wrong with qfq's terms, and days qfq and hfq get wrong once pinned."""
    raw, qfq, hfq = series(truth, **kwargs)
    found = find_actions(raw, qfq)
    pinned = pin_with_hfq(raw, qfq, hfq, found)
    return (
        len(mismatched_days(raw, hfq, found, "hfq")),
        len(mismatched_days(raw, qfq, pinned, "qfq")),
        len(mismatched_days(raw, hfq, pinned, "hfq")),
    )


YEARS = trading_days(dt.date(2019, 1, 3), dt.date(2024, 7, 1))


def test_hfq_pins_cash_whose_sums_round_apart_in_the_two_series():
    # qfq rounds 0.346 and 0.346 + 0.346 (later cash), hfq 0.346 and the same sum from the other end.
    truth = [Action(dt.date(2023, 6, 1), cash=Decimal("0.346")), Action(dt.date(2024, 1, 10), cash=Decimal("0.346"))]

    wrong_before, *after = _pinned_wrong(truth, base="25.00", decimals=2, seed=5, days=DAYS_2023)

    assert wrong_before and after == [0, 0]


def test_hfq_pins_many_sub_tick_cash_payments_at_once():
    days = [dt.date(2019, 6, 3), dt.date(2020, 6, 1), dt.date(2021, 6, 1), dt.date(2022, 6, 1), dt.date(2023, 6, 1)]
    truth = [
        Action(day, cash=Decimal(c)) for day, c in zip(days, ("0.272", "0.859", "0.791", "0.687", "0.367"), strict=True)
    ]

    wrong_before, *after = _pinned_wrong(truth, base="25.00", decimals=2, seed=7, days=YEARS)

    assert wrong_before and after == [0, 0]


def test_hfq_tells_a_bonus_issue_from_another_ratio_with_more_cash():
    # 1:1.5 with 0.10 and 1:1.45 with 0.92 give the same qfq on every day here; hfq tells them apart.
    truth = [
        Action(dt.date(2019, 4, 9), cash=Decimal("0.426")),
        Action(dt.date(2022, 9, 22), cash=Decimal("0.1"), split_ratio=Decimal("1.5")),
        Action(dt.date(2024, 3, 15), cash=Decimal("0.714")),
    ]

    wrong_before, *after = _pinned_wrong(truth, base="25.00", decimals=2, seed=3, days=YEARS)

    assert wrong_before and after == [0, 0]


@pytest.mark.django_db
def test_series_evidence_removes_a_stale_found_row_and_keeps_a_curated_one():
    etf = InstrumentFactory()
    for day, source in ((dt.date(2024, 3, 1), "derived"), (dt.date(2024, 4, 1), "manual")):
        CorporateAction.objects.create(instrument=etf, ex_date=day, cash=Decimal("0.1"), source=source)
    found = Findings([Action(dt.date(2024, 5, 6), cash=Decimal("0.05"))], window=(DAYS[0], DAYS[-1]))

    changes = record_actions({etf.pk: found})

    assert (len(changes.created), len(changes.deleted)) == (1, 1)
    assert list(CorporateAction.objects.values_list("ex_date", "source")) == [
        (dt.date(2024, 4, 1), "manual"),
        (dt.date(2024, 5, 6), "provider"),
    ]


@pytest.mark.django_db
def test_a_snapshot_reading_never_replaces_the_providers_series():
    etf = InstrumentFactory()
    CorporateAction.objects.create(instrument=etf, ex_date=DAYS[5], cash=Decimal("0.052"), source="provider")

    changes = record_actions({etf.pk: Findings([Action(DAYS[5], cash=Decimal("0.05"))], source="snapshot")})

    assert changes.count == 0
    assert CorporateAction.objects.get().cash == Decimal("0.052")


# --- the full-size bench's backfill (1,000 simulated ETFs x 10 years): cases the solver failed ---------
SIM_CASES = Path(__file__).parent / "fixtures" / "sim_backfill_solver_cases"


def sim_case(symbol: str) -> tuple[PriceTicks, PriceTicks, list[Action]]:
    """Raw and qfq ticks and the simulator's actions of one recorded case (fixtures README)."""
    meta = json.loads(SIM_CASES.with_suffix(".json").read_text())[symbol]
    with np.load(SIM_CASES.with_suffix(".npz")) as arrays:
        days = [dt.date.fromordinal(int(day)) for day in np.cumsum(arrays[f"{symbol}/days"])]
        raw = np.cumsum(arrays[f"{symbol}/raw"], axis=0).astype(np.int64)
        qfq = raw - np.cumsum(arrays[f"{symbol}/gap"], axis=0)
    truth = [Action(dt.date.fromisoformat(day), Decimal(cash), Decimal(ratio)) for day, cash, ratio in meta["actions"]]
    return PriceTicks(days, raw, meta["decimals"]), PriceTicks(days, qfq, meta["decimals"]), truth


@pytest.mark.parametrize(
    "symbol",
    [
        "159441.SZ",  # 3.834928 conversion between sub-cent cash payments: "no cash or ratio explains"
        "159461.SZ",  # the same, cash of 0.001-0.003 after the conversion
        "159971.SZ",  # a 0.380231127 reverse conversion after three cash payments
        "159100.SZ",  # a 0.380231127 reverse conversion right after cash
        "517916.SH",  # a 1:4 split, then cash of 0.001-0.007 on prices near 0.27
        "512170.SH",  # a 1:3 split, then cash of 0.001-0.004: read as odd ratios of 0.997..1.016
        "159051.SZ",  # a 1.110680861 conversion: five days taken as bad rows
        "518156.SH",  # a 3.834928 conversion: 35 days taken as bad rows, 70 invented actions
    ],
)
def test_simulated_backfill_cases_reproduce_qfq_on_every_day_without_bad_rows(symbol):
    raw, qfq, truth = sim_case(symbol)
    outliers: list[dt.date] = []

    found = find_actions(raw, qfq, outliers=outliers)

    assert mismatched_days(raw, qfq, found, "qfq") == []
    assert outliers == []
    assert len(found) == len(truth)


def test_step_days_are_the_days_raw_over_qfq_steps_and_stays_not_a_bad_row():
    split = Action(dt.date(2024, 3, 4), split_ratio=Decimal(2))
    raw, qfq, _ = series([split], base="4.200")
    bad = DAYS.index(dt.date(2024, 5, 6))
    qfq.ticks[bad] += 9

    assert step_days(raw, qfq) == [split.ex_date]
