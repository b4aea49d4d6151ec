"""The health report: is the database readable, and how old is each kind's last successful sync."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import DatabaseError
from django.db.models import Max
from django.utils import timezone

from etfs.models import SyncRun

logger = logging.getLogger(__name__)


def health_report(now: dt.datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """``(healthy, report)``; one query, whose success is the database check."""
    now = now or timezone.now()
    try:
        finished = dict(
            SyncRun.objects.filter(status=SyncRun.Status.SUCCESS, finished_at__isnull=False)
            .values_list("kind")
            .annotate(last=Max("finished_at"))
            .order_by()
        )
    except DatabaseError as exc:
        logger.error("health check: database unreadable: %s", exc)
        return False, {"database": f"unreachable: {type(exc).__name__}", "syncs": {}}
    syncs = {}
    for kind in SyncRun.Kind.values:
        last = finished.get(kind)
        syncs[kind] = {
            "last_success_at": last,
            "age_seconds": round((now - last).total_seconds(), 3) if last else None,
        }
    return True, {"database": "ok", "syncs": syncs}
