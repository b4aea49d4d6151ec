"""The SyncRun lifecycle: one running sync per kind, liveness, heartbeats, counters, the final status.

Whether a run is alive is decided by a lock its process holds (``etfs.sync.locks``: a
PostgreSQL session advisory lock, or ``flock`` on a file beside the SQLite database), which
the database or the OS releases the moment the process dies. So a run killed with
``kill -9`` is taken over by the very next run, and a live run is never taken over however
long its heartbeat is silent (a host that hangs, a slow write).

Bookkeeping times (start, heartbeat, finish) are wall-clock ``timezone.now()``, never the
market time a test injects.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from etfs.models import SyncRun
from etfs.providers.http import stop_requests
from etfs.sync.locks import ProcessLock

logger = logging.getLogger(__name__)

T = TypeVar("T")
HEARTBEAT_SECONDS = 5.0
COUNTERS = SyncRun.COUNTERS
# The lock of each claimed run, by primary key, until the run finishes.
_run_locks: dict[int, ProcessLock] = {}
_run_locks_guard = threading.Lock()


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived during a run. A ``BaseException``, so no per-instrument
    ``except Exception`` swallows it on its way to ``run_sync``, which records the run as failed."""


def run_lock(kind: str) -> ProcessLock:
    return ProcessLock(f"sync-{kind}")


def claim_run(
    kind: str,
    *,
    parameters: dict,
    trigger: str,
    triggered_by: str,
    run: SyncRun | None = None,
) -> SyncRun:
    """Mark ``run`` (or a new row) running, unless a live process runs ``kind`` already.

    The kind's lock decides: free means every row still ``running`` belongs to a dead process
    (marked failed, this run takes over); held means a live run, and this one is ``skipped``,
    saying which run is busy. The lock stays held until ``release_run``.
    """
    now = timezone.now()
    lock = run_lock(kind)
    alive = not lock.try_acquire()
    if run is None:
        run = SyncRun(kind=kind, trigger=trigger, triggered_by=triggered_by)
    run.parameters = parameters
    run.started_at = run.heartbeat_at = now
    try:
        with transaction.atomic():
            others = SyncRun.objects.select_for_update().filter(kind=kind, status=SyncRun.Status.RUNNING)
            if run.pk:
                others = others.exclude(pk=run.pk)
            if alive:
                busy = others.order_by("-started_at").first()
                run.status = SyncRun.Status.SKIPPED
                run.finished_at = now
                run.message = (
                    f"Another {kind} sync (run #{busy.pk}, started {busy.started_at:%Y-%m-%d %H:%M:%S %Z}, "
                    f"last heartbeat {busy.heartbeat_at:%H:%M:%S}) is running; not starting a second one."
                    if busy is not None
                    else f"Another {kind} sync is starting; not starting a second one."
                )
            else:
                for other in others:
                    _mark_dead(other, now)
                run.status = SyncRun.Status.RUNNING
            run.save()
    except BaseException:
        lock.release()
        raise
    if not alive:
        with _run_locks_guard:
            _run_locks[run.pk] = lock
    return run


def _mark_dead(other: SyncRun, now) -> None:
    other.status = SyncRun.Status.FAILED
    other.finished_at = now
    other.message = (
        f"{other.message}\nIts process died (killed or lost; last heartbeat "
        f"{other.heartbeat_at:%Y-%m-%d %H:%M:%S %Z}): what it wrote is kept, the next run took over."
    ).strip()
    other.save(update_fields=["status", "finished_at", "message"])
    logger.warning("sync run #%s: its process is gone (last heartbeat %s): marked failed", other.pk, other.heartbeat_at)


def release_run(run: SyncRun) -> None:
    """Give up the kind's lock ``run`` holds (no-op when it holds none)."""
    with _run_locks_guard:
        lock = _run_locks.pop(run.pk, None) if run.pk else None
    if lock is not None:
        lock.release()


def release_all_runs() -> None:
    """Release every run lock this process holds (test teardown: runs left unfinished on purpose)."""
    with _run_locks_guard:
        locks = list(_run_locks.values())
        _run_locks.clear()
    for lock in locks:
        lock.release()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``Interrupted`` for the ``with`` block, then restore the handlers.

    Only the main thread may install signal handlers: elsewhere (a runserver request thread)
    this does nothing. Signals a process ignores (django-q2 workers ignore SIGINT; their
    cluster owns it) stay ignored. A second signal during the clean-up is not raised again.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        stop_requests.set()
        if fired:
            return
        fired.append(signum)
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    stop_requests.clear()  # a run interrupted earlier in this process left it set
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, current in previous.items():
            signal.signal(signum, current)
        if not fired:
            stop_requests.clear()
        # Interrupted: it stays set, so fetcher threads still finishing send nothing more
        # while the process exits.


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

    def beating(self, work: Callable[[], T]) -> T:
        """``work()`` on a helper thread while this thread keeps the heartbeat going.

        For phases that only wait on the network (the list): a host that hangs must not
        silence the heartbeat. ``work`` must not touch the database (this thread owns it).
        """
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etfsync-wait")
        future = pool.submit(work)
        try:
            while True:
                try:
                    return future.result(timeout=HEARTBEAT_SECONDS)
                except FutureTimeout:
                    self.heartbeat(force=True)
        finally:
            # Interrupted: do not wait for a hanging request (its timeout ends the thread).
            pool.shutdown(wait=future.done(), cancel_futures=True)

    def finish(self, status: str, message: str) -> SyncRun:
        self.run.status = status
        self.run.message = message
        self.run.finished_at = self.run.heartbeat_at = timezone.now()
        try:
            if not self.dry_run and self.run.pk:
                self.run.save()
        finally:
            release_run(self.run)
        return self.run
