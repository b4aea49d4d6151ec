"""The django-q2 schedules of the sync, created idempotently by name.

ETFs every day after the close (the task itself skips non-trading days, so holidays need no
schedule edits), stocks after them, both instrument lists weekly. ``install_schedules`` is
used by the ``setup_schedules`` command and by a data migration, with the historical model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django_q.models import Schedule

from etfs.calendar import SHANGHAI

DAILY = "D"
WEEKLY = "W"


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule: what to call, how often, first at which Shanghai wall-clock time."""

    name: str
    args: tuple
    at: dt.time
    schedule_type: str = DAILY
    weekday: int | None = None  # for weekly ones: 0 = Monday
    kwargs: dict[str, Any] = field(default_factory=dict)
    func: str = "etfs.tasks.scheduled_sync"


SCHEDULES = (
    # The close is 15:00 and bars are final by 15:30; leave a margin for the provider.
    ScheduleSpec("etfsync: ETF daily bars", ("etfs",), dt.time(16, 0)),
    # After the ETFs: ~5,000 stocks take longer and must not compete for the rate limit.
    ScheduleSpec("etfsync: stock daily bars", ("stocks",), dt.time(17, 0)),
    ScheduleSpec("etfsync: ETF list (weekly)", ("etfs",), dt.time(9, 0), WEEKLY, weekday=5, kwargs={"list_only": True}),
    ScheduleSpec(
        "etfsync: stock list (weekly)", ("stocks",), dt.time(9, 30), WEEKLY, weekday=5, kwargs={"list_only": True}
    ),
)


def next_run_time(spec: ScheduleSpec, now: dt.datetime) -> dt.datetime:
    """The first time after ``now`` the schedule should fire (Shanghai wall clock)."""
    local = now.astimezone(SHANGHAI)
    candidate = dt.datetime.combine(local.date(), spec.at, tzinfo=SHANGHAI)
    if spec.weekday is not None:
        candidate += dt.timedelta(days=(spec.weekday - local.weekday()) % 7)
    step = dt.timedelta(days=7 if spec.weekday is not None else 1)
    while candidate <= local:
        candidate += step
    return candidate


def install_schedules(schedule_model: Any = None, now: dt.datetime | None = None) -> list[tuple[str, bool]]:
    """Create or update every schedule by name; return ``(name, created)`` pairs.

    ``next_run`` is set only on creation, so re-running never shifts a schedule's clock.
    """
    if schedule_model is None:
        schedule_model = Schedule
    if now is None:
        now = timezone.now()
    result = []
    for spec in SCHEDULES:
        values = {
            "func": spec.func,
            "args": repr(spec.args),
            "kwargs": repr(spec.kwargs) if spec.kwargs else "",
            "schedule_type": spec.schedule_type,
            "repeats": -1,
        }
        _, created = schedule_model.objects.update_or_create(
            name=spec.name,
            defaults=values,
            create_defaults={**values, "next_run": next_run_time(spec, now)},
        )
        result.append((spec.name, created))
    return result


def remove_schedules(schedule_model: Any) -> int:
    deleted, _ = schedule_model.objects.filter(name__in=[s.name for s in SCHEDULES]).delete()
    return deleted
