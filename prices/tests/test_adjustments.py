from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from prices.adjustments import Action, PriceAdjuster

D1, D2, D3 = dt.date(2024, 1, 2), dt.date(2024, 6, 3), dt.date(2024, 12, 2)
DIVIDEND = Action(dt.date(2024, 3, 1), cash=D("0.100"))
SPLIT = Action(dt.date(2024, 9, 2), split_ratio=D("2"))


def test_no_adjustment_returns_raw():
    adjuster = PriceAdjuster([DIVIDEND, SPLIT], "none", 3)
    assert adjuster.price(D1, D("4.000")) == D("4.000")


def test_qfq_subtracts_later_cash_then_divides_by_later_splits():
    adjuster = PriceAdjuster([DIVIDEND, SPLIT], "qfq", 3)
    assert adjuster.price(D1, D("4.000")) == D("1.950")  # (4.0 - 0.1) / 2
    assert adjuster.price(D2, D("4.000")) == D("2.000")  # only the split is later
    assert adjuster.price(D3, D("2.000")) == D("2.000")  # latest prices are unchanged


def test_hfq_undoes_earlier_actions_latest_first():
    adjuster = PriceAdjuster([DIVIDEND, SPLIT], "hfq", 3)
    assert adjuster.price(D1, D("4.000")) == D("4.000")  # before every action
    assert adjuster.price(D2, D("3.900")) == D("4.000")  # + 0.1
    assert adjuster.price(D3, D("1.950")) == D("4.000")  # * 2 + 0.1


def test_ex_date_itself_belongs_to_the_new_regime():
    adjuster = PriceAdjuster([DIVIDEND], "qfq", 3)
    assert adjuster.price(DIVIDEND.ex_date, D("3.900")) == D("3.900")
    assert adjuster.price(DIVIDEND.ex_date - dt.timedelta(days=1), D("4.000")) == D("3.900")


def test_results_round_half_up_to_quoted_precision():
    adjuster = PriceAdjuster([Action(D2, split_ratio=D("3"))], "qfq", 2)
    assert adjuster.price(D1, D("10.00")) == D("3.33")
    assert adjuster.price(D1, D("10.01")) == D("3.34")


def test_unknown_adjustment_is_refused():
    with pytest.raises(ValueError, match="'xfq'"):
        PriceAdjuster([], "xfq", 3)
