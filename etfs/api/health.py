"""The health report: is the database readable, how old is each kind's last successful sync, and
does the trading calendar know the coming days (a warning, not a failure)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max
from django.utils import timezone

from etfs import calendar
from etfs.models import SyncRun

logger = logging.getLogger(__name__)


def health_report(now: dt.datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """``(healthy, report)``; two small queries, whose success is the database check."""
    now = now or timezone.now()
    try:
        finished = dict(
            SyncRun.objects.filter(status=SyncRun.Status.SUCCESS, finished_at__isnull=False)
            .values_list("kind")
            .annotate(last=Max("finished_at"))
            .order_by()
        )
        running = {
            kind: (pk, beat)
            for kind, pk, beat in SyncRun.objects.running()
            .order_by("started_at")
            .values_list("kind", "pk", "heartbeat_at")
        }
    except DatabaseError as exc:
        logger.error("health check: database unreadable: %s", exc)
        return False, {"database": f"unreachable: {type(exc).__name__}", "syncs": {}}
    stalled_after = settings.SYNC["STALE_RUN_SECONDS"]
    syncs = {}
    for kind in SyncRun.Kind.values:
        last = finished.get(kind)
        pk, beat = running.get(kind, (None, None))
        # A live run is never taken over; one whose heartbeat stopped needs an operator (kill it:
        # the next run takes over at once).
        stalled = pk if beat is not None and (now - beat).total_seconds() > stalled_after else None
        if stalled:
            logger.warning("health check: %s sync run #%s has no heartbeat since %s", kind, pk, beat)
        syncs[kind] = {
            "last_success_at": last,
            "age_seconds": round((now - last).total_seconds(), 3) if last else None,
            "running_run": pk,
            "stalled_run": stalled,
        }
    return True, {"database": "ok", "syncs": syncs, "calendar": calendar_report(now)}


def calendar_report(now: dt.datetime) -> dict[str, Any]:
    """How far the trading calendar knows sessions, where from, and a warning when not far enough."""
    today = now.astimezone(calendar.SHANGHAI).date()
    stored = calendar.stored_range()
    warning = calendar.calendar_warning(today)
    if warning:
        logger.warning("health check: %s", warning)
    return {
        "known_through": calendar.last_calendar_day(),
        "provider_sessions_through": stored[1] if stored else None,
        "warning": warning or None,
    }
