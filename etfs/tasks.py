"""django-q2 tasks: thin wrappers over ``etfs.sync.service.run_sync``.

Tasks take simple arguments (a run id, a kind) so they serialise through any broker: a queued
run's options travel in its row (``SyncRun.parameters``, ``SyncOptions.to_json``). The REST
API and the admin call ``enqueue_sync``; the schedules in ``etfs.schedules`` call
``scheduled_sync``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from etfs.calendar import SHANGHAI, is_trading_day
from etfs.models import SyncRun
from etfs.providers.errors import ProviderError
from etfs.sync.audit import audit_adjustments
from etfs.sync.options import Scope, SyncOptions
from etfs.sync.service import run_sync

logger = logging.getLogger(__name__)


def enqueue_sync(options: SyncOptions, *, trigger: str = SyncRun.Trigger.API, triggered_by: str = "") -> SyncRun:
    """Record a queued SyncRun holding ``options`` and hand it to the task queue; return the row.

    The options were checked when they were built, so nothing bad is ever queued. With
    ``Q_CLUSTER["sync"]`` (tests) the task runs inline and the returned row is finished.
    """
    run = SyncRun.objects.create(
        kind=options.kind,
        status=SyncRun.Status.QUEUED,
        trigger=trigger,
        triggered_by=triggered_by,
        parameters=options.to_json(),
    )
    async_task(
        "etfs.tasks.sync_task",
        run.pk,
        task_name=f"sync-{options.kind}-run-{run.pk}",
        group=f"sync-{options.kind}",
        sync=bool(settings.Q_CLUSTER.get("sync", False)),
    )
    run.refresh_from_db()
    return run


def sync_task(run_id: int) -> str:
    """Run a queued SyncRun (the worker side of ``enqueue_sync``) with the options it holds."""
    run = SyncRun.objects.get(pk=run_id)
    if run.status != SyncRun.Status.QUEUED:
        logger.warning("sync run #%s is %s, not queued: not running it again", run.pk, run.status)
        return f"run #{run.pk} was {run.status}; nothing done"
    options = SyncOptions.from_json(run.kind, run.parameters)
    result = run_sync(options, trigger=run.trigger, triggered_by=run.triggered_by, run=run)
    return f"run #{result.pk}: {result.status}"


def scheduled_sync(kind: str, *, list_only: bool = False, now: dt.datetime | None = None) -> str:
    """What the schedules run. Bars are synced on trading days only; other days record why not.

    The list sync (``list_only``) runs any day: lists change on holidays too (renames,
    announced listings), and it costs a few requests. (``list_only`` stays a flag here: the
    schedules stored in django-q2's table call this function with it.)
    """
    options = SyncOptions(kind=kind, scope=Scope.LIST if list_only else Scope.ALL)
    now = now or timezone.now()
    today = now.astimezone(SHANGHAI).date()
    name = f"schedule: {kind}{' list' if list_only else ''}"
    if not list_only and not is_trading_day(today):
        run = SyncRun.objects.create(
            kind=kind,
            status=SyncRun.Status.SKIPPED,
            trigger=SyncRun.Trigger.TASK,
            triggered_by=name,
            parameters=options.to_json(),
            finished_at=timezone.now(),
            message=f"{today:%Y-%m-%d} ({today:%A}) is not a trading day on Shanghai/Shenzhen: no new bars to sync.",
        )
        logger.info("%s", run.message)
        return f"run #{run.pk}: skipped"
    result = run_sync(options, trigger=SyncRun.Trigger.TASK, triggered_by=name, now=now)
    if list_only and result.status == SyncRun.Status.SUCCESS:
        return f"run #{result.pk}: {result.status}; {audit_sample(kind, today)}"
    return f"run #{result.pk}: {result.status}"


def audit_sample(kind: str, today: dt.date) -> str:
    """The weekly rotating audit: ``SYNC["AUDIT_SAMPLE"]`` instruments, the next slice each
    ISO week, compared with the provider's qfq/hfq and repaired (``--verify-adjustments``)."""
    size = settings.SYNC.get("AUDIT_SAMPLE", 0)
    if size <= 0:
        return "no audit"
    year, week, _ = today.isocalendar()
    try:
        results = audit_adjustments(kind, limit=size, offset=(year * 53 + week) * size)
    except ProviderError as exc:
        logger.warning("weekly adjustment audit of %s stopped: %s", kind, exc)
        return f"audit stopped: {exc}"
    changed = sum(r.changes.count for r in results)
    unsettled = [r.symbol for r in results if not r.settled]
    for result in results:
        if result.changes.count or not result.settled:
            logger.warning("%s", result.describe())
    return f"audited {len(results)}: {changed} action(s) changed, {len(unsettled)} still differing"
