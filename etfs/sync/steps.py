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
ratio's last decimals) only hfq can: ``pin_with_hfq``, used by the audit.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
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
    repeated with it as known.
    """
    found = _walk(raw, qfq, later=later, known=known, outliers=outliers)
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
        if j < len(days) - 1:
            ex_day = days[j + 1]
        else:
            # Actions after the last raw day (the provider's qfq reaches further): they apply
            # to every compared day as one, dated on the provider's next day; the next
            # comparison that covers those days replaces it with the real ones.
            beyond = [day for day in qfq.days if day > days[-1]]
            if not beyond:
                raise SeriesMismatch(f"the adjusted price of {days[j]} does not follow the actions after it")
            ex_day = beyond[0]
        solved, start = _solve(p, q, j, a, b, decimals)
        mine = [k for k in known_by_day if days[j] < k.ex_date <= ex_day] if j < len(days) - 1 else []
        chosen = solved
        if len(mine) == 1:
            ka, kb = _step(a, b, mine[0], decimals)
            if _exact_segment(p[start : j + 1], q[start : j + 1], ka, kb):
                chosen = mine[0]
            ex_day = mine[0].ex_date  # the stored day (a curator's, maybe without a bar) stays
        if chosen is None:
            raise SeriesMismatch(f"no cash or ratio explains the adjusted prices before {ex_day}")
        if chosen is solved:
            chosen = Action(ex_day, chosen.cash, chosen.split_ratio)
        found.append(chosen)
        a, b = _step(a, b, chosen, decimals)
        stop = j
    return sorted(found, key=lambda x: x.ex_date)


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


def _solve(p: np.ndarray, q: np.ndarray, j: int, a: Decimal, b: Decimal, decimals: int) -> tuple[Action | None, int]:
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
    scored: dict[Decimal | None, tuple[int, int, Action]] = {}
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
        return None, j
    alive, _, action = max(scored.values(), key=lambda found: found[:2])
    start = j - alive + 1
    # Verify exactly; a float screening error near a boundary shortens the segment instead.
    ka, kb = _step(a, b, action, decimals)
    bad = _first_mismatch(p, q, ka, kb, j, start)
    if bad == j:
        return None, j
    return action, start if bad is None else bad + 1


def _reading(
    ratio: Decimal | None, seg_p: np.ndarray, low: np.ndarray, high: np.ndarray, decimals: int
) -> tuple[int, int, Action] | None:
    """``(days explained, -rank, action)`` for one candidate ratio (None: any odd ratio)."""
    if ratio is None:
        odd = _odd_ratio(seg_p, low, high)
        if odd is None:
            return None
        action = Action(dt.date.min, split_ratio=odd[1])
        return odd[0], -_rank(action, odd=True), action
    fr = float(ratio)
    # (p - c) / r in [low, high)  <=>  c in (p - high * r, p - low * r]
    lo_c, hi_c = seg_p - high * fr, seg_p - low * fr
    alive = _survival(lo_c, hi_c)
    if alive == 0:
        return None
    cash = _pick_cash(lo_c[:alive].max(), hi_c[:alive].min(), decimals)
    if cash is None or cash < 0:
        return None
    action = Action(dt.date.min, cash=cash, split_ratio=ratio)
    return alive, -_rank(action), action


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


def _odd_ratio(seg_p: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[int, Decimal] | None:
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
            return alive, value
    middle = Decimal(repr((lo + hi) / 2)).quantize(Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_UP)
    return (alive, middle) if middle > 0 else None


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


MAX_PIN_TRIALS = 500  # full combinations of candidate terms tried by ``pin_with_hfq``
PIN_OPTIONS = 5  # other values tried per action


def pin_with_hfq(raw: PriceTicks, qfq: PriceTicks, hfq: PriceTicks, actions: Sequence[Action]) -> list[Action]:
    """Terms that reproduce the provider's qfq *and* hfq series, where qfq alone left a choice.

    qfq cannot tell cash 0.346 from 0.35 on a stock quoted to 0.01, nor pin an odd
    conversion ratio to its last decimals, and hfq multiplies every later price by them. hfq
    of the days after an action depends on that action and the earlier ones only, so the
    search goes forward: each action takes, in turn, the values its next hfq days allow
    given the earlier choices (coarse values first), and a full choice is kept when qfq and
    hfq both hold on every day. Without one (within ``MAX_PIN_TRIALS``), ``actions`` stay.
    """
    actions = sorted(actions, key=lambda x: x.ex_date)
    if not actions or not mismatched_days(raw, hfq, actions, "hfq"):
        return list(actions)
    hdays, hp, h = _aligned(raw, hfq)
    seg_h = _segments(hdays, actions)
    days, p, q = _aligned(raw, qfq)
    seg_q = _segments(days, actions)
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


def _candidates(
    actions: list[Action],
    k: int,
    hp: np.ndarray,
    h: np.ndarray,
    seg_h: np.ndarray,
    decimals: int,
    qfq: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[Action]:
    """Values of action ``k``'s cash (or odd ratio) the hfq days after it allow, through the
    earlier actions' map (``x * ratio + cash`` must round right), coarse values first.

    Cash is read from the days up to the next action only (later cash shifts the same
    prices, so their days say nothing of this one alone); an odd ratio from every later day
    (a ratio scales them all), each carried back through the later actions as they stand,
    and also from the qfq days before it (``qfq``: raw ticks, qfq ticks, segments).
    """
    action = actions[k]
    ratio, cash = _ticks_map(action, decimals)
    fr, fc = float(ratio), float(cash)
    fa, fb = (float(v) for v in _maps(actions[:k], decimals, "hfq")[-1])
    odd = not (ratio == ratio.to_integral_value() or _small_fraction(ratio))
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
        return [Action(action.ex_date, v, action.split_ratio) for v in _grid_values(lo, hi, decimals) if v >= 0]
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


def _grid_values(lo: float, hi: float, decimals: int, limit: int = 8) -> list[Decimal]:
    """Cash values (CNY) in ``[lo, hi)`` ticks on the 0.01, 0.001 and 0.0001 grids, nearest the middle first."""
    if lo > hi + EPS or hi - lo > 50 or not np.isfinite(lo + hi):
        return []
    values: list[Decimal] = []
    middle = (lo + hi) / 2
    for places in (2, 3, CASH_PLACES):
        grid = 10 ** (decimals - places)
        base = round(middle / grid)
        for step in sorted(range(-limit, limit + 1), key=abs):
            tick = (base + step) * grid
            if lo - EPS <= tick < hi - EPS:
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
