"""Ex-days read from the provider's forward-adjusted (qfq) series of the same instrument.

A raw East Money series shows no ex-day: its ``change`` is quoted against the previous *raw*
close (checked on real answers). The provider's qfq series carries them instead: for a raw
price ``p`` on a day before the last ex-day, ``qfq = round(a * p + b)``, where ``(a, b)``
composes every later action ``p -> (p - cash) / ratio``; between two ex-days ``(a, b)`` is
constant, and at each ex-day it steps. So walking the days from the newest back, the first
day whose four prices do not follow the current map lies just before an ex-day; the
action's terms are the ``(cash, ratio)`` that make the segment before it follow
``later((p - cash) / ratio)`` on every price, found exactly:

- cash alone and announced ratios (1:n splits, n:1 merges, per-10-share issues such as 1.3)
  are tried first, each with the interval of cash values every price of the segment allows
  (rounding half-up, as the provider does); cash is then taken on the coarsest grid inside it
  (0.01, 0.001, 0.0001);
- a share conversion at an odd ratio (real: 1.110680861) gets the interval of ratios every
  price allows: a round value inside it if there is one, else its middle.

The reading that explains the longest run of days wins (ties: cash alone, a round ratio, round
cash, an odd ratio), so the next ex-day begins where it stops. Prices are handled as integer
ticks (``price × 10^decimals``) in numpy, screened in floats and verified in ``Decimal``: a
backfill compares millions of prices. What qfq cannot settle (cash below a 0.01 quote, an odd
ratio's last decimals) only hfq can: ``pin_with_hfq``, used on an ex-day of the daily path and
by the audit.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from etfs.providers.base import PriceTicks
from prices.adjustments import Action

# Split ratios tried as announced values first (1:n, n:1, per-10-share issues); odd ones after.
MAX_NUMERATOR = 20
MAX_DENOMINATOR = 10
# A cash part of a split day is at most this share of the price (generous).
MAX_CASH_SHARE = 0.3
# Ratios are stored to this many decimals (CorporateAction.split_ratio).
RATIO_PLACES = 10
CASH_PLACES = 4
EPS = 1e-7  # ticks: float screening slack; the choice is then verified exactly
# A day is a bad row, not an ex-day, when this many days before it follow the later map.
OUTLIER_CHECK_DAYS = 3


class SeriesMismatch(ValueError):
    """The adjusted series cannot be explained by actions inside the compared range."""


def _ticks_map(action: Action, decimals: int) -> tuple[Decimal, Decimal]:
    return action.split_ratio, action.cash.scaleb(decimals)


def compose_later(actions: Sequence[Action], decimals: int) -> tuple[Decimal, Decimal]:
    """The qfq map ``(a, b)`` in ticks of all ``actions`` (those after the compared range)."""
    a, b = Decimal(1), Decimal(0)
    for action in sorted(actions, key=lambda x: x.ex_date, reverse=True):
        ratio, cash = _ticks_map(action, decimals)
        a, b = a / ratio, b - a * cash / ratio
    return a, b


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5)


def _first_mismatch(p: np.ndarray, q: np.ndarray, a: Decimal, b: Decimal, stop: int, start: int = 0) -> int | None:
    """The newest index in ``start..stop`` whose prices do not map to the provider's, or None."""
    if stop < start:
        return None
    fa, fb = float(a), float(b)
    mapped = p[start : stop + 1] * fa + fb
    frac = mapped - np.floor(mapped)
    doubtful = np.abs(frac - 0.5) < 1e-6  # near a rounding boundary: decide exactly
    bad = np.any((_round_half_up(mapped) != q[start : stop + 1]) & ~doubtful, axis=1)
    for index in np.flatnonzero(np.any(doubtful, axis=1)):
        if not bad[index]:
            bad[index] = not _exact_row(p[start + index], q[start + index], a, b)
    found = np.flatnonzero(bad)
    return start + int(found[-1]) if len(found) else None


def _exact_row(p: np.ndarray, q: np.ndarray, a: Decimal, b: Decimal) -> bool:
    return all(
        (a * int(pv) + b).to_integral_value(rounding=ROUND_HALF_UP) == int(qv) for pv, qv in zip(p, q, strict=True)
    )


def _exact_segment(p: np.ndarray, q: np.ndarray, a: Decimal, b: Decimal) -> bool:
    return _first_mismatch(p, q, a, b, len(p) - 1) is None


def find_actions(
    raw: PriceTicks,
    qfq: PriceTicks,
    *,
    later: Sequence[Action] = (),
    known: Sequence[Action] = (),
    outliers: list[dt.date] | None = None,
) -> list[Action]:
    """Every ex-day inside the days both series have, with exact terms, oldest first.

    See ``_walk`` for the method. An odd conversion ratio read from the days up to the
    previous ex-day only may still miss a day further back (every earlier day is divided
    by it): then it is re-read from every earlier day, given the other actions, and the walk
    repeated with it as known; where no reading fits the days before an earlier ex-day at
    all, it is re-read across its interval first (``_unstick``).
    """
    try:
        found = _walk(raw, qfq, later=later, known=known, outliers=outliers)
    except _Stuck as stuck:
        found = _unstick(raw, qfq, stuck, later=later, known=known, outliers=outliers)
    if not any(_is_odd(a.split_ratio) for a in found) or not mismatched_days(raw, qfq, [*found, *later], "qfq"):
        return found
    refined = _refine_odd_ratios(raw, qfq, found, later)
    if refined == found:
        return found
    retry: list[dt.date] = []
    again = _walk(raw, qfq, later=later, known=[*known, *refined], outliers=retry)
    if len(mismatched_days(raw, qfq, [*again, *later], "qfq")) < len(
        mismatched_days(raw, qfq, [*found, *later], "qfq")
    ):
        if outliers is not None:
            outliers[:] = retry
        return again
    return found


def _is_odd(ratio: Decimal) -> bool:
    return not (ratio == ratio.to_integral_value() or _small_fraction(ratio))


def _refine_odd_ratios(
    raw: PriceTicks, qfq: PriceTicks, actions: list[Action], later: Sequence[Action]
) -> list[Action]:
    """Each odd ratio re-read from every qfq day before it, through the other actions."""
    days, p, q = _aligned(raw, qfq)
    current = sorted(actions, key=lambda x: x.ex_date)
    decimals = raw.decimals
    for k, action in enumerate(current):
        if not _is_odd(action.split_ratio):
            continue
        seg_q = _segments(days, current)
        fc = float(action.cash.scaleb(decimals))
        later_map = _maps([*current[k + 1 :], *sorted(later, key=lambda x: x.ex_date)], decimals, "qfq")[0]
        lo, hi = float("-inf"), float("inf")
        with np.errstate(divide="ignore", invalid="ignore"):
            for s in range(k + 1):
                rows = seg_q == s
                a, b = _maps(current[s:k], decimals, "qfq")[0]
                y = p[rows] * float(a) + float(b)
                low_q, high_q = _preimage(q[rows].astype(np.float64), *later_map)
                lo, hi = max(lo, _max((y - fc) / high_q)), min(hi, _min((y - fc) / low_q))
        if lo < hi:
            middle = Decimal(repr((lo + hi) / 2)).quantize(Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_UP)
            current[k] = Action(action.ex_date, action.cash, middle)
    return current


def _walk(
    raw: PriceTicks,
    qfq: PriceTicks,
    *,
    later: Sequence[Action] = (),
    known: Sequence[Action] = (),
    outliers: list[dt.date] | None = None,
) -> list[Action]:
    """Every ex-day inside the days both series have, with exact terms, oldest first.

    ``later`` are actions after the last compared day (their map applies to all of it);
    ``known`` are stored actions: one that explains its segment as well as a new solution
    is kept (better pinned by more history, or a curator's date on a day without a bar).
    A day that disagrees alone — the days before it follow the map of the days after it —
    is a bad row of one series, not an ex-day (an ex-day moves every earlier day): it is
    skipped and added to ``outliers``. Raises ``SeriesMismatch`` when even the newest day
    does not follow ``later``.
    """
    decimals = raw.decimals
    index = {day: i for i, day in enumerate(qfq.days)}
    common = [i for i, day in enumerate(raw.days) if day in index]
    if not common:
        return []
    days = [raw.days[i] for i in common]
    p = raw.ticks[common]
    q = qfq.ticks[[index[day] for day in days]]
    a, b = compose_later(later, decimals)
    known_by_day = sorted(known, key=lambda x: x.ex_date)
    found: list[Action] = []
    odd_bounds: dict[dt.date, tuple[float, float]] = {}  # the interval each odd ratio found allows
    stop = len(days) - 1
    while True:
        j = _first_mismatch(p, q, a, b, stop)
        if j is None:
            break
        if j > 0 and _first_mismatch(p, q, a, b, j - 1, max(0, j - OUTLIER_CHECK_DAYS)) is None:
            if outliers is not None:
                outliers.append(days[j])
            stop = j - 1
            continue
        ex_day = _ex_day_after(days, j, qfq)
        solved, start, bounds = _solve(p, q, j, a, b, decimals)
        mine = [k for k in known_by_day if days[j] < k.ex_date <= ex_day] if j < len(days) - 1 else []
        chosen = solved
        if len(mine) == 1:
            ka, kb = _step(a, b, mine[0], decimals)
            if _exact_segment(p[start : j + 1], q[start : j + 1], ka, kb):
                chosen = mine[0]
            ex_day = mine[0].ex_date  # the stored day (a curator's, maybe without a bar) stays
        if chosen is None:
            raise _Stuck(f"no cash or ratio explains the adjusted prices before {ex_day}", found, odd_bounds, days[j])
        if chosen is solved:
            chosen = Action(ex_day, chosen.cash, chosen.split_ratio)
            if bounds is not None:
                chosen, odd_bounds[ex_day] = _narrowed(p, q, start, j, a, b, chosen, bounds, decimals)
        found.append(chosen)
        a, b = _step(a, b, chosen, decimals)
        stop = j
    return sorted(found, key=lambda x: x.ex_date)


def _narrowed(
    p: np.ndarray,
    q: np.ndarray,
    start: int,
    j: int,
    a: Decimal,
    b: Decimal,
    action: Action,
    bounds: tuple[float, float],
    decimals: int,
) -> tuple[Action, tuple[float, float]]:
    """``action`` (an odd ratio read from days ``start..j``) with its ratio narrowed by the days
    before (``_narrow_odd``), kept when it still explains its own segment exactly."""
    narrowed = _narrow_odd(p, q, start, a, b, bounds, decimals)
    if narrowed is None:
        return action, bounds
    trial = Action(action.ex_date, action.cash, narrowed[0])
    if _exact_segment(p[start : j + 1], q[start : j + 1], *_step(a, b, trial, decimals)):
        return trial, narrowed[1]
    return action, bounds


ODD_CASH_COLUMNS = 400  # cash values (0.001 CNY apart) tried per run by ``_narrow_odd``
ODD_MAX_SEGMENTS = 64  # runs of constant cash followed before the reading stops


def _narrow_odd(
    p: np.ndarray, q: np.ndarray, start: int, a: Decimal, b: Decimal, bounds: tuple[float, float], decimals: int
) -> tuple[Decimal, tuple[float, float]] | None:
    """An odd ratio re-read from the days before its segment, where cash payments may lie between.

    The days up to the previous ex-day leave an interval of ratios; the ratio scales every
    earlier day too, and a hair off the true one lets an earlier day round a tick apart, which
    the walk then reads as a bad row or an invented ex-day (0.9995, cash 0.0003), or as no
    reading at all. Going back from the segment, each run of days shares one cash sum ``C``
    (on the 0.001 CNY grid): ``later((p − C) / r)`` rounds to qfq  ⇔  ``r ∈ ((p − C) / high,
    (p − C) / low]``. Each run takes the cash that keeps the ratios' interval open longest,
    and narrows it; the walk stops where a day fits no cash at all (an earlier split). Returns
    the middle of what is left and the interval (None when nothing lies before the segment)."""
    if start <= 0 or not bounds[0] < bounds[1]:
        return None
    low, high = _preimage(q[:start].astype(np.float64)[::-1], a, b)
    pf = p[:start].astype(np.float64)[::-1]  # newest first
    if np.any(low <= 0):
        return None
    lo, hi = bounds
    at, cash, runs = 0, 0.0, 0
    grid = 10.0 ** (decimals - 3)  # ticks per 0.001 CNY
    while at < len(pf) and runs < ODD_MAX_SEGMENTS:
        # the cash values the run's first day allows at some ratio left (on the grid, never below the later sums)
        first_low = float(np.max(pf[at] - hi * high[at])) if hi > 0 else cash
        first_high = float(np.min(pf[at] - lo * low[at]))
        units = np.arange(max(cash, first_low) // grid, first_high // grid + 1)[:ODD_CASH_COLUMNS]
        run = _cash_run(pf[at:], low[at:], high[at:], units * grid, (lo, hi)) if len(units) else None
        if run is None:
            break
        length, cash, (lo, hi) = run
        at, runs = at + length, runs + 1
    middle = Decimal(repr((lo + hi) / 2)).quantize(Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_UP)
    return middle, (lo, hi)


def _cash_run(
    p: np.ndarray, low: np.ndarray, high: np.ndarray, columns: np.ndarray, bounds: tuple[float, float]
) -> tuple[int, float, tuple[float, float]] | None:
    """The longest run of days from the first (newest) that one cash value of ``columns`` explains
    at a ratio inside ``bounds``: ``(days, cash, the ratios left)``, None if not even one day.
    Read on a growing window (64 days, then 4x): a run rarely reaches far, so memory stays small."""
    size = 64
    while True:
        end = min(size, len(p))
        rest = p[:end, :, None] - columns  # days × prices × cash
        lo_r = np.maximum.accumulate(np.maximum((rest / high[:end, :, None]).max(axis=1), bounds[0]), axis=0)
        hi_r = np.minimum.accumulate(np.minimum((rest / low[:end, :, None]).min(axis=1), bounds[1]), axis=0)
        open_ = lo_r < hi_r
        alive = np.where(open_.all(axis=0), end, open_.argmin(axis=0))
        best = int(alive.argmax())
        if alive[best] < end or end == len(p):
            break
        size *= 4
    length = int(alive[best])
    if length == 0:
        return None
    return length, float(columns[best]), (float(lo_r[length - 1, best]), float(hi_r[length - 1, best]))


def _ex_day_after(days: list[dt.date], j: int, qfq: PriceTicks) -> dt.date:
    """The ex-day just after compared day ``j``: the next compared day, or past the last one
    (the provider's qfq reaches further) the provider's next day — actions after the last raw
    day apply to every compared day as one there; the next comparison covering those days
    replaces it with the real ones."""
    if j < len(days) - 1:
        return days[j + 1]
    beyond = [day for day in qfq.days if day > days[-1]]
    if not beyond:
        raise SeriesMismatch(f"the adjusted price of {days[j]} does not follow the actions after it")
    return beyond[0]


class _Stuck(SeriesMismatch):
    """No reading fits the days before an ex-day; what the walk had found by then."""

    def __init__(
        self, message: str, found: list[Action], odd_bounds: dict[dt.date, tuple[float, float]], day: dt.date
    ) -> None:
        super().__init__(message)
        self.found = list(found)
        self.odd_bounds = dict(odd_bounds)
        self.day = day  # the last day no reading fits


def _unstick(
    raw: PriceTicks,
    qfq: PriceTicks,
    stuck: _Stuck,
    *,
    later: Sequence[Action],
    known: Sequence[Action],
    outliers: list[dt.date] | None,
) -> list[Action]:
    """The walk again with an odd ratio it found re-read, when the days before it fit nothing.

    An odd ratio is the middle of what the days up to the previous ex-day allow; a reverse
    conversion (0.38) multiplies every earlier price by 2.6, so a hair off that middle can leave
    no cash on the grid for an earlier segment. The stuck segment then picks the ratio: for
    each cash value on the grid, the ratios its days allow (``_ratios_for_cash``); the days
    before the odd action are walked again with each, and a walk stuck further back narrows
    the interval again. Raises ``stuck`` when none fits every day.
    """
    days, p, q = _aligned(raw, qfq)
    for odd in sorted(stuck.found, key=lambda x: x.ex_date):
        if odd.ex_date not in stuck.odd_bounds:
            continue
        found = _unstick_one(raw, qfq, (days, p, q), stuck, odd, later=later, known=known)
        if found is not None:
            before, trial, seen = found
            if outliers is not None:
                outliers.extend(seen)
            return sorted([*before, *trial], key=lambda x: x.ex_date)
    raise stuck


def _unstick_one(
    raw: PriceTicks,
    qfq: PriceTicks,
    aligned: tuple[list[dt.date], np.ndarray, np.ndarray],
    stuck: _Stuck,
    odd: Action,
    *,
    later: Sequence[Action],
    known: Sequence[Action],
) -> tuple[list[Action], list[Action], list[dt.date]] | None:
    days, p, q = aligned
    after = [x for x in stuck.found if x.ex_date > odd.ex_date]
    cut = bisect.bisect_left(raw.days, odd.ex_date)
    tail = PriceTicks(raw.days[cut:], raw.ticks[cut:], raw.decimals)
    head = PriceTicks(raw.days[:cut], raw.ticks[:cut], raw.decimals)
    bounds = stuck.odd_bounds[odd.ex_date]
    # Days before the odd action (cash alone between) map as (p − S) · scale / ratio + b.
    a_low, b = compose_later([*later, Action(odd.ex_date, odd.cash, Decimal(repr(bounds[0]))), *after], raw.decimals)
    scale, offset = float(a_low) * bounds[0], float(b)
    wall = stuck.day
    for _ in range(ODD_RETRIES):
        rows = _stuck_rows(p, q, bisect.bisect_right(days, wall), scale, bounds)
        moved = False
        for low, high in _ratios_for_cash(p[rows], q[rows], scale, offset, bounds, raw.decimals)[:ODD_CANDIDATES]:
            ratio = Decimal(repr((low + high) / 2)).quantize(Decimal(1).scaleb(-RATIO_PLACES))
            trial = [Action(odd.ex_date, odd.cash, ratio), *after]
            if mismatched_days(tail, qfq, [*trial, *later], "qfq"):
                continue
            seen: list[dt.date] = []
            try:
                return _walk(head, qfq, later=[*trial, *later], known=known, outliers=seen), trial, seen
            except _Stuck as again:
                if again.day < wall and not any(x.split_ratio != 1 for x in again.found):
                    wall, bounds, moved = again.day, (low, high), True
                    break
            except SeriesMismatch:
                continue
        if not moved:
            return None
    return None


def _ratios_for_cash(
    p: np.ndarray, q: np.ndarray, scale: float, offset: float, bounds: tuple[float, float], decimals: int
) -> list[tuple[float, float]]:
    """Ratio intervals inside ``bounds`` that let the days ``p``/``q`` of one segment follow
    ``(p − S) · scale / ratio + offset`` for a cash sum ``S`` on the 0.0001 grid, coarse sums first.

    ``(p − S) · scale / r + offset ∈ [q − ½, q + ½)``  ⇔  ``r ∈ ((p − S) · scale / (q + ½ − offset),
    (p − S) · scale / (q − ½ − offset)]``."""
    p, q = p.astype(np.float64), q.astype(np.float64)
    middle = sum(bounds) / 2
    # the cash sum the middle ratio suggests, in ticks
    estimate = float(np.median(p - (q - offset) * middle / scale)) if len(p) else 0.0
    grid = 10 ** (decimals - CASH_PLACES)
    found: list[tuple[int, tuple[float, float]]] = []
    for step in range(-ODD_CASH_STEPS, ODD_CASH_STEPS + 1):
        units = round(estimate / grid) + step
        cash = units * grid
        upper, lower = q + 0.5 - offset, q - 0.5 - offset
        if np.any(lower <= 0):
            continue
        low = max(bounds[0], float(np.max((p - cash) * scale / upper)))
        high = min(bounds[1], float(np.min((p - cash) * scale / lower)))
        if low < high:
            coarse = next(
                k for k, places in enumerate((2, 3, CASH_PLACES)) if units % 10 ** (CASH_PLACES - places) == 0
            )
            found.append((coarse, (low, high)))
    return [interval for _, interval in sorted(found, key=lambda x: x[0])]


ODD_CANDIDATES = 12  # cash sums tried per stuck segment
ODD_CASH_STEPS = 200  # grid steps each side of the cash the middle ratio suggests
ODD_RETRIES = 8


def _stuck_rows(p: np.ndarray, q: np.ndarray, end: int, scale: float, bounds: tuple[float, float]) -> slice:
    """The longest run of days up to ``end`` that still leaves room for a cash at some ratio in
    ``bounds`` (the stuck segment; crossing into an earlier one adds that one's cash as well)."""
    low, high = 1, end
    while low < high:
        middle = (low + high + 1) // 2
        if _ratio_room(p, q, [slice(end - middle, end)], scale, bounds) is None:
            high = middle - 1
        else:
            low = middle
    return slice(end - low, end)


def _ratio_room(
    p: np.ndarray, q: np.ndarray, segments: list[slice], scale: float, bounds: tuple[float, float]
) -> tuple[float, float] | None:
    """The ratios in ``bounds`` for which every segment of cash alone before the odd action
    still has room for a cash: its days map as ``(p − cash) · scale / ratio + B``, so the
    cash interval they allow is ``min(p − (q − ½) r / scale) − max(p − (q + ½) r / scale)`` wide
    (``B`` cancels), concave in the ratio: its non-negative part is an interval, found by a
    ternary search for the top and bisections for the edges."""
    lo, hi = bounds
    for rows in segments:
        pr, qr = p[rows].astype(np.float64), q[rows].astype(np.float64)

        def room(ratio: float, pr: np.ndarray = pr, qr: np.ndarray = qr) -> float:
            inverse = ratio / scale
            return float(np.min(pr - (qr - 0.5) * inverse) - np.max(pr - (qr + 0.5) * inverse))

        top_lo, top_hi = lo, hi
        for _ in range(80):
            m1, m2 = top_lo + (top_hi - top_lo) / 3, top_hi - (top_hi - top_lo) / 3
            top_lo, top_hi = (m1, top_hi) if room(m1) < room(m2) else (top_lo, m2)
        top = (top_lo + top_hi) / 2
        if room(top) < 0:
            return None
        lo, hi = _edge(room, lo, top), _edge(room, hi, top)
    return lo, hi


def _edge(room, outside: float, inside: float) -> float:
    """Where ``room`` turns non-negative between ``outside`` and ``inside`` (``room(inside) >= 0``)."""
    if room(outside) >= 0:
        return outside
    for _ in range(80):
        middle = (outside + inside) / 2
        outside, inside = (outside, middle) if room(middle) >= 0 else (middle, inside)
    return inside


def _step(a: Decimal, b: Decimal, action: Action, decimals: int) -> tuple[Decimal, Decimal]:
    """The map of the days before ``action``: ``later((p - cash) / ratio)``."""
    ratio, cash = _ticks_map(action, decimals)
    return a / ratio, b - a * cash / ratio


def _preimage(q: np.ndarray, a: Decimal, b: Decimal) -> tuple[np.ndarray, np.ndarray]:
    """Raw-space bounds ``[low, high)`` of values the later map rounds to ``q`` (a > 0)."""
    fa, fb = float(a), float(b)
    return (q - 0.5 - fb) / fa, (q + 0.5 - fb) / fa


def _survival(lo_c: np.ndarray, hi_c: np.ndarray) -> int:
    """How many rows (from the first, newest) keep ``max(lo) < min(hi)`` (rows are days)."""
    lo = np.maximum.accumulate(lo_c.max(axis=1))
    hi = np.minimum.accumulate(hi_c.min(axis=1))
    dead = np.flatnonzero(lo > hi + EPS)
    return int(dead[0]) if len(dead) else len(lo_c)


def _announced_ratios() -> list[tuple[float, Decimal]]:
    values = {Decimal(n) for n in range(2, MAX_NUMERATOR + 1)}
    values |= {1 / Decimal(n) for n in range(2, MAX_NUMERATOR + 1)}
    values |= {1 + Decimal(k) / 20 for k in range(1, 41)}
    return [(float(v), v) for v in sorted(values, key=lambda v: (v != v.to_integral_value(), v))]


ANNOUNCED_RATIOS = _announced_ratios()


def _ratio_candidates(estimate: float) -> list[Decimal]:
    """1 first, then announced-looking ratios near ``estimate`` (cash lowers the reference, so
    ratio <= estimate): whole splits 1:n, merges n:1, and bonus or transfer issues per 10
    shares in steps of 0.5 (10送3 = 1.3, 10转4.5 = 1.45)."""
    low, high = estimate * (1 - MAX_CASH_SHARE), estimate * 1.02
    return [Decimal(1), *(ratio for value, ratio in ANNOUNCED_RATIOS if low <= value <= high)]


def _rank(action: Action, *, odd: bool = False) -> int:
    """Which reading to prefer when several explain the same days: cash alone, a round ratio
    without cash, a round ratio with round cash, an odd conversion, then the rest."""
    if action.split_ratio == 1:
        return 0
    if odd:
        return 4
    cash = action.cash
    if cash == 0:
        return 1
    if cash == cash.quantize(Decimal("0.01")):
        return 2
    return 3 if cash == cash.quantize(Decimal("0.001")) else 5


def _solve(
    p: np.ndarray, q: np.ndarray, j: int, a: Decimal, b: Decimal, decimals: int
) -> tuple[Action | None, int, tuple[float, float] | None]:
    """Terms of the action just after day ``j``, and the oldest index its segment reaches.

    Every candidate reading is scored by how many days back it explains, on a growing
    window (64 days, then 4× more while some candidate explains all of it): segments end
    long before the history does, so most of it is never scanned per ex-day.
    """
    seg_p = p[j::-1].astype(np.float64)  # newest first
    low, high = _preimage(q[j::-1].astype(np.float64), a, b)
    # Estimated ratio from the close of day j: previous close / its raw-space reference.
    center = (low[0, 3] + high[0, 3]) / 2
    estimate = seg_p[0, 3] / center if center > 0 else 1.0
    live: list[Decimal | None] = [*_ratio_candidates(estimate), None]  # None: an odd ratio
    scored: dict[Decimal | None, tuple[int, int, Action, tuple[float, float] | None]] = {}
    size = 64
    while live:
        n = min(size, len(seg_p))
        window = seg_p[:n], low[:n], high[:n]
        for ratio in live:
            found = _reading(ratio, *window, decimals)
            if found is None:
                scored.pop(ratio, None)
            else:
                scored[ratio] = found
        live = [r for r in live if r in scored and scored[r][0] == n] if n < len(seg_p) else []
        size *= 4
    if not scored:
        return None, j, None
    alive, _, action, bounds = max(scored.values(), key=lambda found: found[:2])
    start = j - alive + 1
    # Verify exactly; a float screening error near a boundary shortens the segment instead.
    ka, kb = _step(a, b, action, decimals)
    bad = _first_mismatch(p, q, ka, kb, j, start)
    if bad == j:
        return None, j, None
    return action, start if bad is None else bad + 1, bounds


def _reading(
    ratio: Decimal | None, seg_p: np.ndarray, low: np.ndarray, high: np.ndarray, decimals: int
) -> tuple[int, int, Action, tuple[float, float] | None] | None:
    """``(days explained, -rank, action, the interval of an odd ratio)`` for one candidate ratio
    (None: any odd ratio)."""
    if ratio is None:
        odd = _odd_ratio(seg_p, low, high)
        if odd is None:
            return None
        action = Action(dt.date.min, split_ratio=odd[1])
        return odd[0], -_rank(action, odd=True), action, odd[2]
    fr = float(ratio)
    # (p - c) / r in [low, high)  <=>  c in (p - high * r, p - low * r]
    lo_c, hi_c = seg_p - high * fr, seg_p - low * fr
    alive = _survival(lo_c, hi_c)
    if alive == 0:
        return None
    cash = _pick_cash(lo_c[:alive].max(), hi_c[:alive].min(), decimals)
    if cash is None:  # the interval closed on a boundary (13.5, 13.5]: the run ends where a grid value still fits
        lows, highs = np.maximum.accumulate(lo_c.max(axis=1)), np.minimum.accumulate(hi_c.min(axis=1))
        fits, gone = 0, alive  # _pick_cash fits on the first ``fits`` rows, not on ``gone``
        while gone - fits > 1:
            middle = (fits + gone) // 2
            fits, gone = (middle, gone) if _pick_cash(lows[middle - 1], highs[middle - 1], decimals) else (fits, middle)
        if fits == 0:
            return None
        alive, cash = fits, _pick_cash(lows[fits - 1], highs[fits - 1], decimals)
    if cash is None or cash < 0:
        return None
    action = Action(dt.date.min, cash=cash, split_ratio=ratio)
    return alive, -_rank(action), action, None


def _pick_cash(low: float, high: float, decimals: int) -> Decimal | None:
    """The value on the coarsest CNY grid in ``(low, high]`` ticks, as CNY (None if empty)."""
    if low > high + EPS:
        return None
    if low < 0 <= high:
        return Decimal(0)
    middle = (low + high) / 2
    for places in (2, 3, CASH_PLACES):
        grid = 10 ** (decimals - places)  # ticks per grid step
        base = round(middle / grid)
        for step in (0, -1, 1):
            value = (base + step) * grid
            if low + EPS < value <= high + EPS:
                return Decimal(int(base + step)).scaleb(-places).quantize(Decimal(1).scaleb(-CASH_PLACES))
    return None


def _odd_ratio(seg_p: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[int, Decimal, tuple[float, float]] | None:
    """A pure conversion ``p / r`` at any ratio: the interval of ratios every price allows;
    ``(days explained, ratio)``. A round value (up to 4 decimals) inside it is taken, else
    its middle to ``RATIO_PLACES``: real conversion ratios carry nine or ten decimals
    (1.110680861), and the middle keeps hfq, which multiplies by it, closest whatever it is."""
    if np.any(low[0] <= 0):
        return None
    with np.errstate(divide="ignore"):
        # p / r in [low, high)  <=>  r in (p / high, p / low]
        lo_r = np.where(high > 0, seg_p / high, np.inf)
        hi_r = np.where(low > 0, seg_p / low, np.inf)
    alive = _survival(lo_r, hi_r)
    if alive == 0:
        return None
    lo, hi = float(lo_r[:alive].max()), float(hi_r[:alive].min())
    for places in range(0, 5):
        value = _simplest(lo, hi, places)
        if value is not None:
            return alive, value, (lo, hi)
    middle = Decimal(repr((lo + hi) / 2)).quantize(Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_UP)
    return (alive, middle, (lo, hi)) if middle > 0 else None


# --- the backward-adjusted (hfq) series: pinning what qfq leaves open --------------------------
def _aligned(raw: PriceTicks, series: PriceTicks) -> tuple[list[dt.date], np.ndarray, np.ndarray]:
    index = {day: i for i, day in enumerate(series.days)}
    common = [i for i, day in enumerate(raw.days) if day in index]
    days = [raw.days[i] for i in common]
    return days, raw.ticks[common], series.ticks[[index[day] for day in days]]


def _segments(days: list[dt.date], actions: Sequence[Action]) -> np.ndarray:
    """For each day, how many actions lie on or before it (its segment)."""
    ex_dates = [a.ex_date for a in actions]
    return np.array([bisect.bisect_right(ex_dates, day) for day in days], dtype=np.int64)


def _maps(actions: Sequence[Action], decimals: int, adjust: str) -> list[tuple[Decimal, Decimal]]:
    """The affine map of each segment in ticks (qfq: later actions; hfq: earlier ones)."""
    if adjust == "qfq":
        maps = [(Decimal(1), Decimal(0))]
        for action in reversed(actions):
            maps.insert(0, _step(*maps[0], action, decimals))
        return maps
    maps = [(Decimal(1), Decimal(0))]
    for action in actions:
        a, b = maps[-1]
        ratio, cash = _ticks_map(action, decimals)
        maps.append((a * ratio, a * cash + b))
    return maps


def mismatched_days(raw: PriceTicks, series: PriceTicks, actions: Sequence[Action], adjust: str) -> list[dt.date]:
    """Days on which ``actions`` applied to ``raw`` do not give the provider's ``series``."""
    days, p, q = _aligned(raw, series)
    actions = sorted(actions, key=lambda x: x.ex_date)
    segment = _segments(days, actions)
    wrong: list[dt.date] = []
    for index, (a, b) in enumerate(_maps(actions, raw.decimals, adjust)):
        rows = np.flatnonzero(segment == index)
        while len(rows):
            bad = _first_mismatch(p[rows], q[rows], a, b, len(rows) - 1)
            if bad is None:
                break
            wrong.append(days[rows[bad]])
            rows = rows[:bad]
    return sorted(wrong)


def step_days(raw: PriceTicks, qfq: PriceTicks) -> list[dt.date]:
    """Days on which ``raw / qfq`` (closes) steps by more than rounding and stays stepped: the
    series' ex-days, read without their terms (for when ``find_actions`` cannot read them).
    A day whose ratio steps and steps back the next day is a bad row, not an ex-day."""
    days, p, q = _aligned(raw, qfq)
    if len(days) < 2:
        return []
    close_p, close_q = p[:, 3].astype(np.float64), q[:, 3].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = close_p / close_q
        moved = np.abs(ratio[1:] / ratio[:-1] - 1) > 1 / np.minimum(close_q[1:], close_q[:-1])
        back = np.abs(ratio[2:] / ratio[:-2] - 1) <= 1 / np.minimum(close_q[2:], close_q[:-2])
    undone = np.append(moved[1:] & back, False)  # day i + 1 stepped and day i + 2 steps back
    undoing = np.insert(back, 0, False)  # day i + 1 is back where day i - 1 was: day i was the bad one
    return [days[i + 1] for i in np.flatnonzero(moved & ~undone & ~undoing)]


MAX_PIN_TRIALS = 500  # full combinations of candidate terms tried by ``pin_with_hfq``
PIN_OPTIONS = 5  # other values tried per action


def pin_with_hfq(raw: PriceTicks, qfq: PriceTicks, hfq: PriceTicks, actions: Sequence[Action]) -> list[Action]:
    """Terms that reproduce the provider's qfq *and* hfq series, where qfq alone left a choice.

    qfq cannot tell cash 0.346 from 0.35 on a stock quoted to 0.01 (it rounds the sums of later
    cash, hfq those of earlier cash), nor a 1:1.5 bonus issue with 0.10 from 1:1.45 with 0.92,
    nor pin an odd conversion ratio to its last decimals. Tried in turn, each verified on every
    day of both series: ``pin_cash`` (every cash at once) with the ratios qfq read, then with
    announced ratios near them, then with each action read as a share conversion at the ratios
    both series allow; last a search forward (hfq of the days after an action depends on that
    action and the earlier ones only): each action takes the values its next hfq days allow
    given the earlier choices, coarse values first. Without a choice that fits (within
    ``MAX_PIN_TRIALS``), ``actions`` stay.
    """
    actions = sorted(actions, key=lambda x: x.ex_date)
    if not actions or not mismatched_days(raw, hfq, actions, "hfq"):
        return list(actions)
    for trial in _ratio_alternatives(actions):
        solved = pin_cash(raw, qfq, hfq, trial)
        if solved is not None:
            return solved
    hdays, hp, h = _aligned(raw, hfq)
    seg_h = _segments(hdays, actions)
    days, p, q = _aligned(raw, qfq)
    seg_q = _segments(days, actions)
    for trial in _as_conversions(actions, hp, h, seg_h, raw.decimals, (p, q, seg_q)):
        solved = pin_cash(raw, qfq, hfq, trial)
        if solved is not None:
            return solved
    trials = 0

    def search(chosen: list[Action]) -> list[Action] | None:
        nonlocal trials
        k = len(chosen)
        if k == len(actions):
            trials += 1
            full = chosen
            ok = not mismatched_days(raw, hfq, full, "hfq") and not mismatched_days(raw, qfq, full, "qfq")
            return full if ok else None
        allowed = _candidates([*chosen, *actions[k:]], k, hp, h, seg_h, raw.decimals, (p, q, seg_q))
        inside = actions[k] in allowed or not mismatched_days(raw, hfq, [*chosen, *actions[k:]], "hfq")
        options = ([actions[k]] if inside else []) + [a for a in allowed if a != actions[k]][:PIN_OPTIONS]
        for option in options:
            if trials >= MAX_PIN_TRIALS:
                return None
            found = search([*chosen, option])
            if found is not None:
                return found
        return None

    return search([]) or list(actions)


def _as_conversions(
    actions: list[Action],
    hp: np.ndarray,
    h: np.ndarray,
    seg_h: np.ndarray,
    decimals: int,
    qfq: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Iterator[list[Action]]:
    """``actions`` with one read as a share conversion (no cash) at each ratio both series allow:
    at low prices qfq can read a conversion as cash (1.1107 at 0.27 as 0.029)."""
    for k, action in enumerate(actions):
        as_conversion = [*actions[:k], Action(action.ex_date, split_ratio=action.split_ratio), *actions[k + 1 :]]
        for option in _candidates(as_conversion, k, hp, h, seg_h, decimals, qfq, odd=True)[:PIN_OPTIONS]:
            yield [*actions[:k], option, *actions[k + 1 :]]


RATIO_SPREAD = 0.1  # announced ratios this close to qfq's reading are tried too
MAX_RATIO_TRIALS = 64


def _ratio_alternatives(actions: list[Action]) -> list[list[Action]]:
    """``actions``, then with other announced ratios near each split's: qfq can read a bonus issue
    with cash as another one (1.45 with 0.92 for 1.5 with 0.10 reproduced every qfq day)."""
    options = []
    for action in actions:
        near = [action]
        if action.split_ratio != 1:
            ratio = float(action.split_ratio)
            near += [
                Action(action.ex_date, action.cash, value)
                for fv, value in ANNOUNCED_RATIOS
                if abs(fv / ratio - 1) <= RATIO_SPREAD and value != action.split_ratio
            ]
            near.sort(key=lambda a: abs(float(a.split_ratio) / ratio - 1))
        options.append(near)
    return [list(combo) for combo in itertools.islice(itertools.product(*options), MAX_RATIO_TRIALS)]


def _bounds(lows: np.ndarray, highs: np.ndarray) -> tuple[float, float]:
    return (_max(lows), _min(highs)) if lows.size else (float("-inf"), float("inf"))


def pin_cash(raw: PriceTicks, qfq: PriceTicks, hfq: PriceTicks, actions: Sequence[Action]) -> list[Action] | None:
    """Every action's cash reproducing both series, the ex-days and ratios kept (None if none found).

    With ``y_j = cash_j × ρ_j`` (``ρ_j``: the product of the earlier ratios), hfq's offset of
    segment ``s`` is the prefix sum ``γ_s = Σ_{j<s} y_j`` and qfq's, times the product of all
    ratios, is minus the suffix sum ``T − γ_s`` (``T = Σ y_j``): each series' days bound
    ``γ_s`` (hfq) and ``T − γ_s`` (qfq) to an interval. Once ``T`` is chosen (the middle of what
    every segment allows) the segments are independent: each cash takes a value on the
    coarsest CNY grid that keeps ``γ_s`` inside both bounds, the last one lands ``T``. The
    choice is then verified exactly on every day of both series.
    """
    actions = sorted(actions, key=lambda x: x.ex_date)
    n, decimals = len(actions), raw.decimals
    ratios = [float(a.split_ratio) for a in actions]
    rho = [float(np.prod(ratios[:s])) for s in range(n + 1)]  # earlier ratios, per segment
    total = rho[n]
    hdays, hp, h = _aligned(raw, hfq)
    days, p, q = _aligned(raw, qfq)
    seg_h, seg_q = _segments(hdays, actions), _segments(days, actions)
    gamma_bounds, rest_bounds = [], []  # γ_s from hfq; T − γ_s from qfq
    for s in range(n + 1):
        hp_s, h_s = hp[seg_h == s].astype(np.float64), h[seg_h == s].astype(np.float64)
        gamma_bounds.append(_bounds(h_s - 0.5 - hp_s * rho[s], h_s + 0.5 - hp_s * rho[s]))
        scale = total / rho[s]  # qfq of segment s: round(p / R_s + β_s), R_s = total / ρ_s
        p_s, q_s = p[seg_q == s].astype(np.float64), q[seg_q == s].astype(np.float64)
        low_b, high_b = _bounds(q_s - 0.5 - p_s / scale, q_s + 0.5 - p_s / scale)
        rest_bounds.append((-total * high_b, -total * low_b))  # T − γ_s = −total × β_s
    # No action before the first segment, none after the last: hfq and qfq are raw there.
    if not (gamma_bounds[0][0] <= 0 < gamma_bounds[0][1] and rest_bounds[n][0] <= 0 <= rest_bounds[n][1]):
        return None
    gamma_bounds[0], rest_bounds[n] = (0.0, 0.0), (0.0, 0.0)
    t_lo, t_hi = _total_bounds(gamma_bounds, rest_bounds)
    if not (np.isfinite(t_lo) and np.isfinite(t_hi)) or t_lo > t_hi + EPS:
        return None
    for share in (0.5, 0.25, 0.75, 0.1, 0.9):
        target = t_lo + (t_hi - t_lo) * share
        chosen = _cash_towards(target, gamma_bounds, rest_bounds, rho, actions, decimals)
        if (
            chosen is not None
            and not mismatched_days(raw, hfq, chosen, "hfq")
            and not mismatched_days(raw, qfq, chosen, "qfq")
        ):
            return chosen
    return None


def _total_bounds(gammas: list[tuple[float, float]], rest_bounds: list[tuple[float, float]]) -> tuple[float, float]:
    """Where ``T`` may lie: ``γ_s + (T − γ_s)`` for every segment (``γ_0 = 0``, ``γ_n = T``)."""
    sums = [(g[0] + r[0], g[1] + r[1]) for g, r in zip(gammas, rest_bounds, strict=True)]
    return max(low for low, _ in sums), min(high for _, high in sums)


def _cash_towards(
    target: float,
    gamma_bounds: list[tuple[float, float]],
    rest_bounds: list[tuple[float, float]],
    rho: list[float],
    actions: list[Action],
    decimals: int,
) -> list[Action] | None:
    """Cash values (forward, one per action) keeping each ``γ_s`` inside both bounds for ``T =
    target``; the last one brings ``T`` inside every qfq bound given the ``γ_s`` chosen."""
    n = len(actions)
    gamma, gammas, chosen = 0.0, [0.0], []
    for j in range(n):
        if j < n - 1:
            low = max(gamma_bounds[j + 1][0], target - rest_bounds[j + 1][1])
            high = min(gamma_bounds[j + 1][1], target - rest_bounds[j + 1][0])
        else:  # T itself: inside hfq's last bound, qfq's first, and T − γ_s's for the γ_s chosen
            low, high = _total_bounds([(g, g) for g in gammas] + [gamma_bounds[n]], rest_bounds)
        cash = _cash_between((low - gamma) / rho[j], (high - gamma) / rho[j], decimals)
        if cash is None:
            return None
        chosen.append(Action(actions[j].ex_date, cash, actions[j].split_ratio))
        gamma += float(cash.scaleb(decimals)) * rho[j]
        gammas.append(gamma)
    return chosen


def _cash_between(low: float, high: float, decimals: int) -> Decimal | None:
    """A cash value (CNY) in ``[low, high]`` ticks: 0, else on the coarsest grid within the middle
    half of the interval, else the 0.0001 value nearest its middle (slack for the rest)."""
    low = max(low, 0.0)
    if low > high + EPS:
        return None
    if low <= EPS:
        return Decimal(0).quantize(Decimal(1).scaleb(-CASH_PLACES))
    middle, quarter = (low + high) / 2, (high - low) / 4
    for places in (2, 3, CASH_PLACES):
        grid = 10 ** (decimals - places)
        units = round(middle / grid)
        for step in (0, -1, 1):
            tick = (units + step) * grid
            if (places == CASH_PLACES and low - EPS <= tick <= high + EPS) or abs(tick - middle) <= quarter:
                return Decimal(int(units + step)).scaleb(-places).quantize(Decimal(1).scaleb(-CASH_PLACES))
    return None


def _candidates(
    actions: list[Action],
    k: int,
    hp: np.ndarray,
    h: np.ndarray,
    seg_h: np.ndarray,
    decimals: int,
    qfq: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    *,
    odd: bool = False,
) -> list[Action]:
    """Values of action ``k``'s cash (or odd ratio; ``odd``: read its ratio as one) the hfq days
    after it allow, through the earlier actions' map (``x * ratio + cash`` must round right),
    coarse values first.

    Cash is read from the days up to the next action only (later cash shifts the same
    prices, so their days say nothing of this one alone); an odd ratio from every later day
    (a ratio scales them all), each carried back through the later actions as they stand.
    Both are also read from the qfq days before it (``qfq``: raw ticks, qfq ticks, segments):
    cash values both series allow come first (hfq and qfq round the sums of cash from opposite
    ends, so the value hfq alone prefers may break qfq), then the rest hfq allows.
    """
    action = actions[k]
    ratio, cash = _ticks_map(action, decimals)
    fr, fc = float(ratio), float(cash)
    fa, fb = (float(v) for v in _maps(actions[:k], decimals, "hfq")[-1])
    odd = odd or not (ratio == ratio.to_integral_value() or _small_fraction(ratio))
    xs, rows_h = [], []
    for s in range(k + 1, len(actions) + 1 if odd else k + 2):
        rows = seg_h == s
        a, b = _maps(actions[k + 1 : s], decimals, "hfq")[-1]
        xs.append(hp[rows] * float(a) + float(b))
        rows_h.append(h[rows])
    x, hh = np.concatenate(xs), np.concatenate(rows_h)
    low_h, high_h = (hh - 0.5 - fb) / fa, (hh + 0.5 - fb) / fa
    if not odd:
        lo, hi = _max(low_h - x * fr), _min(high_h - x * fr)
        values = _grid_values(lo, hi, decimals)
        if qfq is not None:  # values the qfq days before it allow too (given the later actions) come first
            q_lo, q_hi = _qfq_cash_bounds(actions, k, decimals, qfq)
            both = _grid_values(max(lo, q_lo), min(hi, q_hi), decimals, closed=True)
            values = both + [v for v in values if v not in both]
        return [Action(action.ex_date, v, action.split_ratio) for v in values if v >= 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = _max((low_h - fc) / x), _min((high_h - fc) / x)
        if qfq is not None:  # and (y - cash) / ratio must round right through the later actions
            p, q, seg_q = qfq
            later = _maps(actions[k + 1 :], decimals, "qfq")[0]
            for s in range(k + 1):
                rows = seg_q == s
                a, b = _maps(actions[s:k], decimals, "qfq")[0]
                y = p[rows] * float(a) + float(b)
                low_q, high_q = _preimage(q[rows].astype(np.float64), *later)
                lo, hi = max(lo, _max((y - fc) / high_q)), min(hi, _min((y - fc) / low_q))
    found: list[Action] = []
    for places in range(1, RATIO_PLACES + 1):
        value = _simplest(lo - EPS * 1e-3, hi - EPS * 1e-3, places) if lo < hi else None
        if value is not None and all(value != a.split_ratio for a in found):
            found.append(Action(action.ex_date, action.cash, value))
    return found


def _qfq_cash_bounds(
    actions: list[Action], k: int, decimals: int, qfq: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """Ticks of action ``k``'s cash that the qfq days before it allow, through the other actions
    as they stand: ``later((y - cash) / ratio)`` must round to the provider's qfq."""
    p, q, seg_q = qfq
    fr = float(actions[k].split_ratio)
    later = _maps(actions[k + 1 :], decimals, "qfq")[0]
    lo, hi = float("-inf"), float("inf")
    for s in range(k + 1):
        rows = seg_q == s
        a, b = _maps(actions[s:k], decimals, "qfq")[0]
        y = p[rows] * float(a) + float(b)
        low_q, high_q = _preimage(q[rows].astype(np.float64), *later)
        # (y - c) / r in [low, high)  <=>  c in (y - r * high, y - r * low]
        lo, hi = max(lo, _max(y - fr * high_q)), min(hi, _min(y - fr * low_q))
    return lo, hi


def _grid_values(lo: float, hi: float, decimals: int, limit: int = 8, *, closed: bool = False) -> list[Decimal]:
    """Cash values (CNY) in ``[lo, hi)`` ticks (``closed``: ``[lo, hi]``, where bounds of both
    series meet: hfq's include their low end, qfq's their high end) on the 0.01, 0.001 and
    0.0001 grids, nearest the middle first."""
    if lo > hi + EPS or hi - lo > 50 or not np.isfinite(lo + hi):
        return []
    values: list[Decimal] = []
    middle = (lo + hi) / 2
    for places in (2, 3, CASH_PLACES):
        grid = 10 ** (decimals - places)
        base = round(middle / grid)
        for step in sorted(range(-limit, limit + 1), key=abs):
            tick = (base + step) * grid
            if lo - EPS <= tick and (tick <= hi + EPS if closed else tick < hi - EPS):
                value = Decimal(int(base + step)).scaleb(-places).quantize(Decimal(1).scaleb(-CASH_PLACES))
                if value not in values:
                    values.append(value)
    return values[:limit]


def _max(values: np.ndarray) -> float:
    return float(values.max()) if values.size else float("-inf")


def _min(values: np.ndarray) -> float:
    return float(values.min()) if values.size else float("inf")


def _small_fraction(ratio: Decimal) -> bool:
    return any(
        (ratio * denominator) == (ratio * denominator).to_integral_value()
        for denominator in range(1, MAX_DENOMINATOR + 1)
    )


def _simplest(lo: float, hi: float, places: int | None = None) -> Decimal | None:
    """The value with the fewest decimals in ``(lo, hi]`` (or the one at ``places`` decimals)."""
    for count in range(0, RATIO_PLACES + 1) if places is None else (places,):
        step = Decimal(1).scaleb(-count)
        middle = Decimal(repr((lo + hi) / 2)).quantize(step, rounding=ROUND_HALF_UP)
        for value in (middle, middle - step, middle + step):
            if value > 0 and lo < float(value) <= hi:
                return value
    return None
