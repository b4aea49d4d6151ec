"""The simulated host's trading calendar, independent of what the sync has stored.

Where ``exchange_calendars`` publishes XSHG sessions the simulated host trades on them;
after that (2027 on) it keeps holidays of its own, as the real exchanges will, so tests can
live on a day that no published calendar knows is a holiday.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools

from etfs.calendar import exchange_sessions

# The simulated host's 2027 holidays (weekdays only): New Year, Spring Festival, Qingming,
# Labour Day, Dragon Boat, Mid-Autumn and National Day, as the State Council's pattern has them.
SIM_HOLIDAYS = frozenset(
    dt.date(2027, month, day)
    for month, day in (
        (1, 1),
        (2, 5),
        (2, 8),
        (2, 9),
        (2, 10),
        (2, 11),
        (4, 5),
        (5, 3),
        (5, 4),
        (5, 5),
        (6, 9),
        (9, 15),
        (10, 1),
        (10, 4),
        (10, 5),
        (10, 6),
        (10, 7),
    )
)


@functools.lru_cache(maxsize=1)
def _published() -> tuple[tuple[dt.date, ...], dt.date, dt.date]:
    sessions = exchange_sessions()
    return sessions, sessions[0], sessions[-1]


def is_session(day: dt.date) -> bool:
    sessions, first, last = _published()
    if first <= day <= last:
        at = bisect.bisect_left(sessions, day)
        return sessions[at] == day
    return day.weekday() < 5 and day not in SIM_HOLIDAYS


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The simulated host's sessions from ``start`` to ``end`` inclusive."""
    sessions, first, last = _published()
    days = list(
        sessions[bisect.bisect_left(sessions, max(start, first)) : bisect.bisect_right(sessions, min(end, last))]
    )
    cursor = start
    while cursor <= end:  # outside the published range: the host's own rule
        if first <= cursor <= last:
            cursor = last + dt.timedelta(days=1)
            continue
        if cursor.weekday() < 5 and cursor not in SIM_HOLIDAYS:
            days.append(cursor)
        cursor += dt.timedelta(days=1)
    return sorted(days)
