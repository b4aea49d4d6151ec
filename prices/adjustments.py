"""Forward (qfq) and backward (hfq) adjusted prices from raw bars and corporate actions.

This reproduces East Money's own adjustment (checked on real data): cash distributions
shift prices *additively* and splits scale them *multiplicatively*; volumes and amounts
are never adjusted; results are rounded to the instrument's quoted precision.

For a raw price ``p`` on day ``t``:
- qfq applies every action with ``ex_date > t``, earliest first: ``p -> (p - cash) / ratio``;
- hfq applies every action with ``ex_date <= t``, latest first: ``p -> p * ratio + cash``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ADJUSTS = ("none", "qfq", "hfq")


@dataclass(frozen=True)
class Action:
    """A corporate action reduced to what adjustment needs."""

    ex_date: dt.date
    cash: Decimal = Decimal(0)
    split_ratio: Decimal = Decimal(1)


class PriceAdjuster:
    """Adjusts prices of one instrument; build once per request, call per bar.

    Precomputes, for every position between ex-dates, the affine map ``p -> p*a + b``
    that the qfq or hfq rule composes to, so adjusting N bars costs O(N log E).
    """

    def __init__(self, actions: Sequence[Action], adjust: str, decimals: int) -> None:
        if adjust not in ADJUSTS:
            raise ValueError(f"unknown adjustment {adjust!r} (expected one of {', '.join(ADJUSTS)})")
        self.adjust = adjust
        self.quantum = Decimal(1).scaleb(-decimals)
        self.actions = sorted(actions, key=lambda a: a.ex_date)
        self.ex_dates = [a.ex_date for a in self.actions]
        self.maps = self._qfq_maps() if adjust == "qfq" else self._hfq_maps()

    def _qfq_maps(self) -> list[tuple[Decimal, Decimal]]:
        # maps[i] applies actions i.. (all ex_dates after the day); built from the end.
        maps = [(Decimal(1), Decimal(0))]
        for action in reversed(self.actions):
            a_next, b_next = maps[0]
            # (p - cash)/ratio, then the later map: ((p - cash)/ratio)*a + b
            a = a_next / action.split_ratio
            b = b_next - action.cash * a_next / action.split_ratio
            maps.insert(0, (a, b))
        return maps

    def _hfq_maps(self) -> list[tuple[Decimal, Decimal]]:
        # maps[i] undoes actions 0..i-1 (all ex_dates on or before the day), latest first.
        maps = [(Decimal(1), Decimal(0))]
        for action in self.actions:
            a_prev, b_prev = maps[-1]
            # first p*ratio + cash (latest action), then the earlier ones: (p*r + c)*a + b
            maps.append((action.split_ratio * a_prev, action.cash * a_prev + b_prev))
        return maps

    def position(self, day: dt.date) -> int:
        """Index of the segment ``day`` falls in (number of actions on or before it)."""
        return bisect.bisect_right(self.ex_dates, day)

    def factor(self, day: dt.date) -> tuple[Decimal, Decimal]:
        """The affine map ``(a, b)`` with ``adjusted = raw * a + b`` for ``day``."""
        if self.adjust == "none":
            return Decimal(1), Decimal(0)
        return self.maps[self.position(day)]

    def price(self, day: dt.date, raw: Decimal) -> Decimal:
        if self.adjust == "none":
            return raw
        a, b = self.maps[self.position(day)]
        return (raw * a + b).quantize(self.quantum, rounding=ROUND_HALF_UP)
