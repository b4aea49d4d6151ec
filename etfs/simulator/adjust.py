"""East Money's price adjustment, written independently of ``prices.adjustments``.

The simulator's qfq/hfq series are the truth the sync is checked against, so they must not
share code with the module under test: cash distributions shift prices additively, splits
scale them, and the result is rounded half-up once, to the instrument's precision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class SimAction:
    """A corporate action, shaped like ``prices.adjustments.Action``."""

    ex_date: dt.date
    cash: Decimal = Decimal(0)
    split_ratio: Decimal = Decimal(1)


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def qfq_price(price: Decimal, day: dt.date, actions: tuple[SimAction, ...], decimals: int) -> Decimal:
    """Forward-adjusted: every later action, earliest first, ``p -> (p - cash) / ratio``."""
    for action in sorted(actions, key=lambda a: a.ex_date):
        if action.ex_date > day:
            price = (price - action.cash) / action.split_ratio
    return round_half_up(price, decimals)


def hfq_price(price: Decimal, day: dt.date, actions: tuple[SimAction, ...], decimals: int) -> Decimal:
    """Backward-adjusted: every action up to the day, latest first, ``p -> p * ratio + cash``."""
    for action in sorted(actions, key=lambda a: a.ex_date, reverse=True):
        if action.ex_date <= day:
            price = price * action.split_ratio + action.cash
    return round_half_up(price, decimals)
