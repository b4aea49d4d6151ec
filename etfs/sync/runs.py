"""The SyncRun lifecycle: one running sync per kind, heartbeats, counters, the final status.

Bookkeeping times (start, heartbeat, finish) are wall-clock ``timezone.now()``, never the
market time a test injects, because staleness is about whether a process is still alive.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from etfs.models import SyncRun

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
COUNTERS = SyncRun.COUNTERS


def _lock_kind(kind: str) -> None:
    """Serialise run starts of one kind (PostgreSQL advisory lock; SQLite writes are serial)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"etfsync-sync-{kind}".encode())])


def claim_run(
    kind: str,
    *,
    parameters: dict,
    trigger: str,
    triggered_by: str,
    run: SyncRun | None = None,
) -> SyncRun:
    """Mark ``run`` (or a new row) running, unless another live run of ``kind`` holds the job.

    A running row whose heartbeat is older than ``SYNC["STALE_RUN_SECONDS"]`` belongs to a
    killed process: it is marked failed and this run takes over. A live one makes this run
    ``skipped``, saying which run is busy.
    """
    now = timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.SYNC["STALE_RUN_SECONDS"])
    with transaction.atomic():
        _lock_kind(kind)
        if run is None:
            run = SyncRun(kind=kind, trigger=trigger, triggered_by=triggered_by)
        run.parameters = parameters
        others = SyncRun.objects.select_for_update().filter(kind=kind, status=SyncRun.Status.RUNNING)
        if run.pk:
            others = others.exclude(pk=run.pk)
        busy = None
        for other in others:
            if other.heartbeat_at >= stale_before:
                busy = other
                continue
            other.status = SyncRun.Status.FAILED
            other.finished_at = now
            other.message = (
                f"{other.message}\nNo heartbeat since {other.heartbeat_at:%Y-%m-%d %H:%M:%S %Z}: "
                "the process was killed or lost; the next run takes over."
            ).strip()
            other.save(update_fields=["status", "finished_at", "message"])
            logger.warning("sync run #%s is stale (last heartbeat %s): marked failed", other.pk, other.heartbeat_at)
        run.started_at = run.heartbeat_at = now
        if busy is not None:
            run.status = SyncRun.Status.SKIPPED
            run.finished_at = now
            run.message = (
                f"Another {kind} sync (run #{busy.pk}, started {busy.started_at:%Y-%m-%d %H:%M:%S %Z}) is running; "
                "not starting a second one."
            )
        else:
            run.status = SyncRun.Status.RUNNING
        run.save()
    return run


class RunRecorder:
    """Accumulates a run's counters and errors; saves them with a heartbeat now and then.

    With ``dry_run`` nothing is ever saved: the run row is only a report.
    """

    def __init__(self, run: SyncRun, *, dry_run: bool = False) -> None:
        self.run = run
        self.dry_run = dry_run
        self._last_beat = time.monotonic()

    def add(self, **counts: int) -> None:
        for name, value in counts.items():
            setattr(self.run, name, getattr(self.run, name) + value)

    def error(self, symbol: str, message: str) -> None:
        logger.warning("sync %s: %s: %s", self.run.kind, symbol or "run", message)
        self.run.errors = [*(self.run.errors or []), {"symbol": symbol, "error": message}]
        self.run.failures = len([e for e in self.run.errors if e.get("symbol")])

    def heartbeat(self, *, force: bool = False) -> None:
        """Save counters and the heartbeat at most every few seconds (every call when forced)."""
        if self.dry_run or not self.run.pk:
            return
        if not force and time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = time.monotonic()
        self.run.heartbeat_at = timezone.now()
        SyncRun.objects.filter(pk=self.run.pk).update(
            heartbeat_at=self.run.heartbeat_at,
            errors=self.run.errors,
            **{name: getattr(self.run, name) for name in COUNTERS},
        )

    def finish(self, status: str, message: str) -> SyncRun:
        self.run.status = status
        self.run.message = message
        self.run.finished_at = self.run.heartbeat_at = timezone.now()
        if not self.dry_run and self.run.pk:
            self.run.save()
        return self.run
