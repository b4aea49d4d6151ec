"""Ex-days recorded as ``prices.CorporateAction`` rows, and the snapshot's hint of one.

Where ex-days come from (see ``etfs.sync.steps`` for the first):

- the provider's forward-adjusted series of the same instrument, compared with the raw one
  (``source=provider``): exact terms, and the only evidence in history, since East Money's
  raw ``change`` is quoted against the previous raw close even on an ex-day;
- the list snapshot on the ex-day itself: ``f18`` (previous close) is the exchange's
  ex-reference price, so it differs from the stored close. That only *flags* the day; the
  instrument then goes through history, whose qfq series settles the terms. Only when that
  request fails is the snapshot's reading kept (``source=snapshot``, unconfirmed);
- the provider's distribution/split tables (``source=table``): the exact terms of an ex-day the
  series shows (an odd conversion ratio's last decimals, a stock's cash below its 0.01 quote),
  taken only where the qfq series still fits on every day (``etfs.sync.announced``);
- curators (``source=manual``), whose rows the sync never changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from prices.adjustments import Action
from prices.models import CorporateAction

Source = CorporateAction.Source
# A drop of the reference price by more than this share of the previous close reads as a
# split or conversion, a smaller one as cash. Quotes alone cannot tell a 10 % distribution
# from a 1:1.11 conversion (159919 on 2019-01-14: 3.408 -> 3.068); the provider's series
# decides whenever it can be had, this only labels the unconfirmed fallback.
CASH_MAX_SHARE = Decimal("0.08")
# Splits and conversions are often announced as small fractions (2:1, 3:2, 10:1, 1:3 …).
MAX_DENOMINATOR = 10
MAX_NUMERATOR = 20
CASH_QUANTUM = Decimal("0.0001")
RATIO_QUANTUM = Decimal("0.0000000001")
# Sources the sync may replace with better evidence, weakest first.
REPLACEABLE: dict[str, int] = {Source.DERIVED: 0, Source.SNAPSHOT: 1, Source.PROVIDER: 2, Source.TABLE: 2}


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def snap_ratio(previous_close: Decimal, reference_close: Decimal, decimals: int) -> Decimal:
    """The split ratio with the smallest denominator that reproduces the rounded reference,
    else the measured ratio (odd conversions such as 1:3.8349 exist)."""
    raw = previous_close / reference_close
    for denominator in range(1, MAX_DENOMINATOR + 1):
        numerator = (raw * denominator).to_integral_value(rounding=ROUND_HALF_UP)
        if numerator <= 0 or numerator > MAX_NUMERATOR:
            continue
        candidate = numerator / Decimal(denominator)
        if _round(previous_close / candidate, decimals) == reference_close:
            return candidate.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    return raw.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def derive_action(
    day: dt.date, previous_close: Decimal | None, reference_close: Decimal | None, decimals: int
) -> Action | None:
    """What the snapshot's reference price (``f18``) suggests happened on ``day``, or None.

    A hint, not evidence of the terms: the caller fetches the provider's series for them.
    """
    if previous_close is None or reference_close is None or reference_close <= 0:
        return None
    reference_close = _round(reference_close, decimals)
    if _round(previous_close, decimals) == reference_close:
        return None
    if reference_close > previous_close or previous_close - reference_close > previous_close * CASH_MAX_SHARE:
        return Action(ex_date=day, split_ratio=snap_ratio(previous_close, reference_close, decimals))
    cash = (previous_close - reference_close).quantize(CASH_QUANTUM, rounding=ROUND_HALF_UP)
    return Action(ex_date=day, cash=cash)


@dataclass
class Findings:
    """What one look at the evidence established for one instrument.

    ``window`` = the first and last day compared: when the provider's series were compared
    (``source=provider``), a stored ex-day strictly after the first and up to the last one
    that is not in ``actions`` did not happen (non-manual rows there go). A snapshot reading
    removes nothing.

    ``sources`` names the actions whose terms came from elsewhere than ``source`` (a table's,
    checked against the series), by ex-date.

    ``unexplained`` says why the series could not be read (then ``window`` is None, so no
    stored row is touched, and the run records the instrument as failed for its adjustments;
    its raw bars are stored all the same); ``ex_days`` are the days the series still shows
    stepping (terms unknown), whose raw moves the move check must not hold.
    """

    actions: list[Action]
    source: str = Source.PROVIDER
    window: tuple[dt.date, dt.date] | None = None
    unexplained: str = ""
    ex_days: tuple[dt.date, ...] = ()
    sources: dict[dt.date, str] = field(default_factory=dict)

    def source_of(self, action: Action) -> str:
        return self.sources.get(action.ex_date, self.source)


@dataclass
class ActionChanges:
    """Rows the recording changed, as ``(instrument_id, ex_date, before, after)``."""

    created: list[tuple[int, dt.date, Action | None, Action | None]] = field(default_factory=list)
    updated: list[tuple[int, dt.date, Action | None, Action | None]] = field(default_factory=list)
    deleted: list[tuple[int, dt.date, Action | None, Action | None]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    def __iadd__(self, other: ActionChanges) -> ActionChanges:
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted
        return self


def _as_action(row: CorporateAction) -> Action:
    return Action(row.ex_date, row.cash, row.split_ratio)


def record_actions(found: dict[int, Findings]) -> ActionChanges:
    """Create, correct or remove actions per instrument id from what was found.

    Manual rows are never touched; weaker evidence never replaces stronger (a snapshot
    reading does not overwrite the provider's series); rows inside a window of the
    provider's series that it shows did not happen are removed.
    """
    changes = ActionChanges()
    found = {key: value for key, value in found.items() if value.actions or value.window}
    if not found:
        return changes
    existing: dict[tuple[int, dt.date], CorporateAction] = {
        (row.instrument_id, row.ex_date): row for row in CorporateAction.objects.filter(instrument_id__in=list(found))
    }
    created, updated, deleted = [], [], []
    now = timezone.now()
    for instrument_id, findings in found.items():
        days = set()
        for action in findings.actions:
            source = findings.source_of(action)
            strength = REPLACEABLE[source]
            days.add(action.ex_date)
            cash = action.cash.quantize(CASH_QUANTUM)
            ratio = action.split_ratio.quantize(RATIO_QUANTUM)
            row = existing.get((instrument_id, action.ex_date))
            if row is None:
                row = CorporateAction(instrument_id=instrument_id, ex_date=action.ex_date, cash=cash, split_ratio=ratio)
                row.source = source
                created.append(row)
                changes.created.append((instrument_id, action.ex_date, None, action))
            elif (
                row.source != Source.MANUAL
                and REPLACEABLE[row.source] <= strength
                and ((row.cash, row.split_ratio) != (cash, ratio) or REPLACEABLE[row.source] < strength)
            ):  # equal terms keep their label: a table's row re-read from the series stays "table"
                changes.updated.append((instrument_id, action.ex_date, _as_action(row), action))
                row.cash, row.split_ratio, row.source = cash, ratio, source
                row.updated_at = now
                updated.append(row)
        if findings.window is not None and findings.source == Source.PROVIDER:
            first, last = findings.window
            for (owner, day), row in existing.items():
                if owner == instrument_id and first < day <= last and day not in days and row.source != Source.MANUAL:
                    deleted.append(row.pk)
                    changes.deleted.append((instrument_id, day, _as_action(row), None))
    CorporateAction.objects.bulk_create(created)
    CorporateAction.objects.bulk_update(updated, ["cash", "split_ratio", "source", "updated_at"])
    if deleted:
        CorporateAction.objects.filter(pk__in=deleted).delete()
    return changes


def stored_actions(instrument_ids: list[int]) -> dict[int, list[Action]]:
    """Every stored action per instrument (what the comparison prefers when it still fits)."""
    result: dict[int, list[Action]] = {}
    for offset in range(0, len(instrument_ids), 500):
        rows = CorporateAction.objects.filter(instrument_id__in=instrument_ids[offset : offset + 500]).order_by(
            "instrument_id", "ex_date"
        )
        for row in rows:
            result.setdefault(row.instrument_id, []).append(_as_action(row))
    return result
