"""Holding suspicious bars for a curator, and logging the revisions that pass.

Runs on the writer's thread, inside the transaction that writes the instrument's bars, so a
bar is either written or held, never lost. ``Quarantine.screen_stored`` compares incoming
bars with stored ones: a price moved by more than ``REVISION_TICKS`` ticks is held (the
stored bar stays); anything smaller (a volume or amount correction) is applied and logged
as a ``prices.BarRevision``. ``accept`` and ``reject`` are the curator's two answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from django.db import transaction
from django.utils import timezone

from etfs.models import SyncRun
from etfs.providers.base import BarRecord
from prices.models import BarRevision, DailyBar, QuarantinedBar, bar_values, time_to_trading_date, trading_date_to_time
from prices.writer import BarWriter, Row

logger = logging.getLogger(__name__)

# A revision moving a price by more than this many ticks is held for a curator.
REVISION_TICKS = 2
PRICES = ("open", "high", "low", "close")
VALUES = (*PRICES, "volume", "amount")


def _quantized(values: dict) -> dict:
    """Values as the columns store them (prices at 3 places, amount at 2): what comparisons see."""
    result = dict(values)
    for name in PRICES:
        result[name] = str(Decimal(values[name]).quantize(Decimal("0.001")))
    if values.get("amount") is not None:
        result["amount"] = str(Decimal(values["amount"]).quantize(Decimal("0.01")))
    return result


def record_from_values(day: dt.date, values: dict) -> BarRecord:
    return BarRecord(
        day=day,
        open=Decimal(values["open"]),
        high=Decimal(values["high"]),
        low=Decimal(values["low"]),
        close=Decimal(values["close"]),
        volume=int(values["volume"]),
        amount=None if values.get("amount") is None else Decimal(values["amount"]),
    )


class RunLog(Protocol):
    """What the desk needs of a sync run's recorder (``etfs.sync.runs.RunRecorder``): the run the
    held bars point to, whether anything may be saved, and where a held bar is reported."""

    run: SyncRun
    dry_run: bool

    def error(self, symbol: str, message: str) -> None: ...


class Quarantine:
    """One run's quarantine desk: holds bars, logs revisions, records held bars in the run."""

    def __init__(self, recorder: RunLog, symbols: dict[int, str], decimals: dict[int, int]) -> None:
        self.recorder = recorder
        self.symbols = symbols
        self.decimals = decimals
        self.held = 0
        self.revised = 0

    @property
    def run(self) -> SyncRun | None:
        run = self.recorder.run
        return run if run.pk and not self.recorder.dry_run else None

    def hold(
        self, instrument_id: int, bar: BarRecord, reason: str, kind: str, old: dict | None = None
    ) -> QuarantinedBar | None:
        """Hold ``bar`` (not written) unless the same values are pending or were rejected
        already; a new hold is an error of the run naming the instrument."""
        new = bar_values(bar)
        previous = QuarantinedBar.objects.filter(instrument_id=instrument_id, day=bar.day).exclude(
            status=QuarantinedBar.Status.ACCEPTED
        )
        for row in previous:
            if row.new == new:
                logger.info("%s %s: still held (%s)", self.symbols.get(instrument_id), bar.day, row.status)
                return None
        pending = next((row for row in previous if row.status == QuarantinedBar.Status.PENDING), None)
        if pending is None:
            pending = QuarantinedBar(instrument_id=instrument_id, day=bar.day)
        pending.kind, pending.reason, pending.old, pending.new, pending.sync_run = kind, reason, old, new, self.run
        if not self.recorder.dry_run:
            pending.save()
        self.held += 1
        self.recorder.error(self.symbols.get(instrument_id, str(instrument_id)), f"quarantined {bar.day}: {reason}")
        return pending

    def hold_moves(self, instrument_id: int, held: Iterable[tuple[BarRecord, str]]) -> None:
        """Days a move check held back; the stored bar of that day (if any) stays."""
        held = list(held)
        if not held:
            return
        stored = _stored(instrument_id, [bar.day for bar, _ in held])
        for bar, reason in held:
            self.hold(instrument_id, bar, reason, QuarantinedBar.Kind.MOVE, stored.get(bar.day))

    def screen_stored(self, rows: Iterable[Row]) -> list[Row]:
        """The rows to write: each differing from its stored bar by more than
        ``REVISION_TICKS`` ticks in a price is held instead; smaller differences are logged."""
        rows = list(rows)
        if not rows:
            return rows
        stored = _stored_many({(instrument_id, bar.day) for instrument_id, bar in rows})
        if not stored:
            return rows
        kept: list[Row] = []
        revisions: list[BarRevision] = []
        for instrument_id, bar in rows:
            old = stored.get((instrument_id, bar.day))
            if old is None:
                kept.append((instrument_id, bar))
                continue
            new = _quantized(bar_values(bar))
            if new == old:
                kept.append((instrument_id, bar))
                continue
            tick = Decimal(1).scaleb(-self.decimals.get(instrument_id, 3))
            moved = [n for n in PRICES if abs(Decimal(new[n]) - Decimal(old[n])) > REVISION_TICKS * tick]
            if moved:
                changes = ", ".join(f"{n} {old[n]} → {new[n]}" for n in moved)
                reason = f"revision of a stored bar moves {changes} (more than {REVISION_TICKS} ticks)"
                self.hold(instrument_id, bar, reason, QuarantinedBar.Kind.REVISION, old)
                continue
            kept.append((instrument_id, bar))
            changed = ", ".join(n for n in new if new[n] != old[n])
            revisions.append(
                BarRevision(
                    instrument_id=instrument_id,
                    day=bar.day,
                    old=old,
                    new=new,
                    reason=f"provider revised {changed}",
                    sync_run=self.run,
                )
            )
        if revisions and not self.recorder.dry_run:
            BarRevision.objects.bulk_create(revisions)
            self.revised += len(revisions)
        return kept


def _stored_many(keys: set[tuple[int, dt.date]]) -> dict[tuple[int, dt.date], dict]:
    """The stored bars of ``(instrument id, day)`` keys as ``bar_values``: one range query per
    500 instruments (a daily snapshot asks one day of every instrument)."""
    days = [day for _, day in keys]
    ids = sorted({instrument_id for instrument_id, _ in keys})
    found: dict[tuple[int, dt.date], dict] = {}
    for offset in range(0, len(ids), 500):
        rows = DailyBar.objects.filter(
            instrument_id__in=ids[offset : offset + 500],
            time__gte=trading_date_to_time(min(days)),
            time__lte=trading_date_to_time(max(days)),
        ).values_list("instrument_id", "time", *VALUES)
        for instrument_id, time_value, *values in rows:
            key = (instrument_id, time_to_trading_date(time_value))
            if key in keys:
                found[key] = {
                    name: value if name == "volume" or value is None else str(value)
                    for name, value in zip(VALUES, values, strict=True)
                }
    return found


def _stored(instrument_id: int, days: list[dt.date]) -> dict[dt.date, dict]:
    """The stored bars of one instrument on ``days``, as ``bar_values``."""
    if not days:
        return {}
    wanted = set(days)
    rows = DailyBar.objects.filter(
        instrument_id=instrument_id,
        time__gte=trading_date_to_time(min(days)),
        time__lte=trading_date_to_time(max(days)),
    )
    return {time_to_trading_date(bar.time): bar_values(bar) for bar in rows if time_to_trading_date(bar.time) in wanted}


def accept(held: QuarantinedBar, user: str) -> None:
    """Write the held values, or for an invalid stored row (nothing new) remove it; the
    change is logged with old and new values and the decision recorded."""
    with transaction.atomic():
        held = QuarantinedBar.objects.select_for_update().get(pk=held.pk)
        if held.status != QuarantinedBar.Status.PENDING:
            return
        old = _stored(held.instrument_id, [held.day]).get(held.day)
        if held.new is not None:
            BarWriter().upsert([(held.instrument_id, record_from_values(held.day, held.new))])
        else:  # an invalid stored row: accepting removes it
            DailyBar.objects.filter(instrument_id=held.instrument_id, time=trading_date_to_time(held.day)).delete()
        BarRevision.objects.create(
            instrument_id=held.instrument_id,
            day=held.day,
            old=old,
            new=held.new,
            reason=f"accepted by {user} from quarantine #{held.pk}",
        )
        _decide(held, QuarantinedBar.Status.ACCEPTED, user)


def reject(held: QuarantinedBar, user: str) -> None:
    """Keep the stored bar; the same values are not held again."""
    with transaction.atomic():
        held = QuarantinedBar.objects.select_for_update().get(pk=held.pk)
        if held.status == QuarantinedBar.Status.PENDING:
            _decide(held, QuarantinedBar.Status.REJECTED, user)


def _decide(held: QuarantinedBar, status: str, user: str) -> None:
    held.status, held.decided_at, held.decided_by = status, timezone.now(), user
    held.save(update_fields=["status", "decided_at", "decided_by"])


def pending_count() -> int:
    return QuarantinedBar.objects.filter(status=QuarantinedBar.Status.PENDING).count()
