"""Ex-days found in the quotes we already fetch, recorded as ``prices.CorporateAction`` rows.

On an ex-day the exchange quotes the day's change against the *ex-reference* previous close
``(previous_close - cash) / split_ratio`` (rounded to the quoted precision), not against
yesterday's close; East Money's ``close - change`` (history) and ``f18`` (snapshot) carry
it. Comparing it with the stored previous close tells a distribution (the difference) from
a split (the ratio), so no extra request is spent on instruments without actions.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from prices.adjustments import Action
from prices.models import CorporateAction

# Drops in the reference price larger than this share of the previous close are read as
# splits or share conversions, smaller ones as cash distributions (ETF and stock cash
# distributions stay well below a fifth of the price; splits are 1:1.5 and more).
SPLIT_THRESHOLD = Decimal("1.25")
# Splits and conversions are announced as small fractions (2:1, 3:2, 10:1, 1:3 …).
MAX_DENOMINATOR = 10
MAX_NUMERATOR = 20
CASH_QUANTUM = Decimal("0.0001")
RATIO_QUANTUM = Decimal("0.000001")


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def snap_ratio(previous_close: Decimal, reference_close: Decimal, decimals: int) -> Decimal:
    """The split ratio with the smallest denominator that reproduces the rounded reference.

    ``previous / reference`` is only approximate (the reference is rounded to ``decimals``
    places), so look for a plausible fraction first and fall back to the raw ratio for odd
    share conversions (real ones such as 1:3.8349 exist).
    """
    raw = previous_close / reference_close
    for denominator in range(1, MAX_DENOMINATOR + 1):
        numerator = (raw * denominator).to_integral_value(rounding=ROUND_HALF_UP)
        if numerator <= 0 or numerator > MAX_NUMERATOR:
            continue
        candidate = numerator / Decimal(denominator)
        if _round(previous_close / candidate, decimals) == reference_close:
            return candidate.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_UP)
    return raw.quantize(RATIO_QUANTUM, rounding=ROUND_HALF_UP)


def derive_action(
    day: dt.date, previous_close: Decimal | None, reference_close: Decimal | None, decimals: int
) -> Action | None:
    """The corporate action on ``day`` implied by the quotes, or ``None`` when there was none."""
    if previous_close is None or reference_close is None or reference_close <= 0:
        return None
    reference_close = _round(reference_close, decimals)
    if _round(previous_close, decimals) == reference_close:
        return None
    if reference_close > previous_close or previous_close / reference_close >= SPLIT_THRESHOLD:
        return Action(ex_date=day, split_ratio=snap_ratio(previous_close, reference_close, decimals))
    cash = (previous_close - reference_close).quantize(CASH_QUANTUM, rounding=ROUND_HALF_UP)
    return Action(ex_date=day, cash=cash)


def record_actions(found: dict[int, list[Action]]) -> int:
    """Create or correct derived actions per instrument id; return how many rows changed.

    Rows a curator entered (``manual``) or that came from a provider series are never
    overwritten: they are better evidence than a difference of two rounded prices.
    """
    found = {instrument_id: actions for instrument_id, actions in found.items() if actions}
    if not found:
        return 0
    days = {a.ex_date for actions in found.values() for a in actions}
    existing = {
        (row.instrument_id, row.ex_date): row
        for row in CorporateAction.objects.filter(instrument_id__in=list(found), ex_date__in=days)
    }
    created, corrected = [], []
    for instrument_id, actions in found.items():
        for action in actions:
            row = existing.get((instrument_id, action.ex_date))
            if row is None:
                created.append(
                    CorporateAction(
                        instrument_id=instrument_id,
                        ex_date=action.ex_date,
                        cash=action.cash,
                        split_ratio=action.split_ratio,
                        source=CorporateAction.Source.DERIVED,
                    )
                )
            elif row.source == CorporateAction.Source.DERIVED and (
                row.cash != action.cash or row.split_ratio != action.split_ratio
            ):
                row.cash, row.split_ratio = action.cash, action.split_ratio
                corrected.append(row)
    CorporateAction.objects.bulk_create(created)
    CorporateAction.objects.bulk_update(corrected, ["cash", "split_ratio"])
    return len(created) + len(corrected)


# --- exact actions from the provider's own forward-adjusted series ------------------------
CASH_GRIDS = (Decimal("0.01"), Decimal("0.001"), CASH_QUANTUM)
MAX_CASH_SHARE = Decimal("0.2")


def needs_provider_series(actions: list[Action], decimals: int) -> bool:
    """Whether quotes alone may have given an inexact action (then one qfq request settles it).

    Cash read from prices quoted to 0.001 is exact for the usual 0.001-CNY distributions, and
    so is a split whose ratio snapped to a small fraction; with 0.01 quotes (stocks) per-share
    cash such as 0.159 is not, and a ratio that did not snap hides a cash part (bonus shares
    plus a dividend) or is an odd conversion.
    """
    return any(_uncertain(a, decimals) for a in actions)


def _uncertain(action: Action, decimals: int) -> bool:
    """Quotes settle a cash-only action at 0.001 precision and a split that snapped to a small
    fraction (a cash part would have kept it from snapping); anything else is uncertain."""
    return decimals < 3 or (action.split_ratio != 1 and not _small_fraction(action.split_ratio))


def _small_fraction(ratio: Decimal) -> bool:
    for denominator in range(1, MAX_DENOMINATOR + 1):
        numerator = (ratio * denominator).to_integral_value(rounding=ROUND_HALF_UP)
        if 0 < numerator <= MAX_NUMERATOR and abs(ratio * denominator - numerator) < RATIO_QUANTUM * denominator:
            return True
    return False


def _candidate_ratios(measured: Decimal) -> list[Decimal]:
    """Split ratios that could lie behind a measured ``previous / reference`` ratio.

    Cash lowers the reference, so the true ratio is at most the measured one (and at least
    what a cash part up to ``MAX_CASH_SHARE`` of the price allows); small fractions first.
    """
    low = measured * (1 - MAX_CASH_SHARE)
    found = [Decimal(1)] if low <= 1 <= measured else []
    for denominator in range(1, MAX_DENOMINATOR + 1):
        for numerator in range(1, MAX_NUMERATOR + 1):
            ratio = Decimal(numerator) / Decimal(denominator)
            if low <= ratio <= measured and all(ratio != r for r in found):
                found.append(ratio)
    return found


def _cash_interval(
    ratio: Decimal,
    later: tuple[Decimal, Decimal],
    segment: list[tuple[Decimal, Decimal]],
    half: Decimal,
) -> tuple[Decimal, Decimal] | None:
    """Cash values for which every (raw, provider qfq) price of the segment rounds right.

    The provider's qfq of a raw price ``p`` before this ex-day is ``round(a*(p - c)/r + b)``,
    ``(a, b)`` being the later actions' map; each observed pair bounds ``c`` to an interval.
    """
    a, b = later
    low, high = Decimal("-Infinity"), Decimal("Infinity")
    for raw, adjusted in segment:
        low = max(low, raw - ratio * (adjusted + half - b) / a)
        high = min(high, raw - ratio * (adjusted - half - b) / a)
        if low > high:
            return None
    return low, high


def _pick_cash(low: Decimal, high: Decimal) -> Decimal | None:
    """The value on the coarsest grid inside ``[low, high]`` (announcements use round amounts)."""
    if low <= 0 <= high:
        return Decimal(0)
    for grid in CASH_GRIDS:
        middle = ((low + high) / 2).quantize(grid, rounding=ROUND_HALF_UP)
        for value in (middle, middle - grid, middle + grid):
            if low <= value <= high and value >= 0:
                return value.quantize(CASH_QUANTUM)
    return None


def refine_actions(raw_bars: list, qfq_bars: list, actions: list[Action], decimals: int) -> list[Action]:
    """Exact cash and ratio of each action from the provider's qfq series of the same days.

    Works from the latest action back (each earlier one's qfq includes the later ones); an
    action the series cannot pin down keeps the value read from the quotes.
    """
    qfq = {bar.day: bar for bar in qfq_bars}
    half = Decimal(5).scaleb(-decimals - 1)
    ordered = sorted(actions, key=lambda action: action.ex_date)
    later = (Decimal(1), Decimal(0))
    refined: list[Action] = []
    for index in range(len(ordered) - 1, -1, -1):
        action = ordered[index]
        since = ordered[index - 1].ex_date if index else None
        segment = [
            (getattr(bar, field), getattr(qfq[bar.day], field))
            for bar in raw_bars
            if bar.day < action.ex_date and (since is None or bar.day >= since) and bar.day in qfq
            for field in ("open", "high", "low", "close")
        ]
        exact = None
        if not _uncertain(action, decimals):
            segment = []  # exact already: only composed into the earlier ones' map
        previous = [bar for bar in raw_bars if bar.day < action.ex_date]
        ex_bar = next((bar for bar in raw_bars if bar.day == action.ex_date), None)
        if segment and previous and ex_bar is not None and ex_bar.prev_close:
            prev_close, reference = previous[-1].close, ex_bar.prev_close
            for ratio in _candidate_ratios(prev_close / reference):
                # The ex-day's reference bounds the cash too: reference = round((prev - c) / r).
                on_ex_day = _cash_interval(ratio, (Decimal(1), Decimal(0)), [(prev_close, reference)], half)
                before = _cash_interval(ratio, later, segment, half)
                if on_ex_day is None or before is None:
                    continue
                low, high = max(on_ex_day[0], before[0]), min(on_ex_day[1], before[1])
                cash = _pick_cash(low, high) if low <= high else None
                if cash is not None:
                    exact = Action(action.ex_date, cash=cash, split_ratio=ratio.quantize(RATIO_QUANTUM))
                    break
        chosen = exact or action
        refined.append(chosen)
        a, b = later
        later = (a / chosen.split_ratio, b - a * chosen.cash / chosen.split_ratio)
    return sorted(refined, key=lambda action: action.ex_date)
