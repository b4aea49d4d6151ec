"""The China A-share trading calendar (Shanghai and Shenzhen share it).

Sessions come from the provider and are stored in the database (``etfs.models.CalendarDay``:
the SSE Composite index's daily bars, kept current by each list snapshot's date, see
``etfs.sync.sessions``). Outside the stored range the maintained ``exchange_calendars`` XSHG
calendar answers (it is also the cross-check when sessions are stored); beyond both, weekdays
count as sessions, and the health endpoint warns (``calendar_warning``).

Every function here is called often (freshness, snapshot path decisions, gap detection):
the merged calendar is built once and cached per process; whether the stored days changed
is checked at most every ``RECHECK_SECONDS`` (one cheap query), and at once after the sync
stores days in this process (``refresh``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import logging
import threading
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
from django.db import transaction
from django.db.models import Count, Max

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the exchanges' zone (bars, the close, the calendar), whatever TIME_ZONE is
MARKET_CLOSE = dt.time(15, 0)
# Bars are final some minutes after the close; the provider needs a moment to settle.
FINAL_AFTER = dt.time(15, 30)
RECHECK_SECONDS = 60.0
# The health endpoint warns when the calendar knows the sessions of fewer days ahead than this.
KNOWN_AHEAD_DAYS = 7


@dataclass(frozen=True)
class Calendar:
    """Sessions from ``first`` to ``last`` (stored ones win inside the stored range)."""

    sessions: tuple[dt.date, ...]
    session_set: frozenset[dt.date]
    first: dt.date
    last: dt.date
    stored: tuple[dt.date, dt.date] | None  # the range the provider's sessions cover


@functools.lru_cache(maxsize=1)
def exchange_sessions() -> tuple[dt.date, ...]:
    """``exchange_calendars``' XSHG sessions (published about a year ahead)."""
    # Start early enough for the oldest ETFs (510050 listed in 2005) and stocks.
    cal = xcals.get_calendar("XSHG", start="1995-01-03")
    return tuple(day.date() for day in cal.sessions)


def build_calendar(stored: list[tuple[dt.date, bool]]) -> Calendar:
    """Merge stored days (``(date, is_session)``, every day of their range) with ``exchange_calendars``."""
    exchange = exchange_sessions()
    if not stored:
        return Calendar(exchange, frozenset(exchange), exchange[0], exchange[-1], None)
    lo, hi = stored[0][0], stored[-1][0]
    inside = [day for day, is_session in stored if is_session]
    sessions = (
        exchange[: bisect.bisect_left(exchange, lo)] + tuple(inside) + exchange[bisect.bisect_right(exchange, hi) :]
    )
    return Calendar(sessions, frozenset(sessions), min(lo, exchange[0]), max(hi, exchange[-1]), (lo, hi))


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calendar: Calendar | None = None
        self.key: tuple | None = None
        self.checked = 0.0


_cache = _Cache()


def _stored_key() -> tuple | None:
    """``(count, last date)`` of the stored days, or None when the database cannot be read."""
    try:
        from etfs.models import CalendarDay  # here: the simulator imports this module without Django set up

        with transaction.atomic():  # a savepoint inside a transaction: a failure leaves it usable
            row = CalendarDay.objects.aggregate(n=Count("date"), last=Max("date"))
        return (row["n"], row["last"])
    except Exception as exc:  # no database here (simulator, a test without one, before migrate)
        logger.debug("calendar: stored sessions unreadable (%s); exchange_calendars only", exc)
        return None


def _load_stored() -> list[tuple[dt.date, bool]]:
    from etfs.models import CalendarDay  # here: the simulator imports this module without Django set up

    return list(CalendarDay.objects.order_by("date").values_list("date", "is_session"))


def current() -> Calendar:
    """The merged calendar, rebuilt when the stored days changed (checked every ``RECHECK_SECONDS``)."""
    cache = _cache
    calendar = cache.calendar
    if calendar is not None and time.monotonic() - cache.checked < RECHECK_SECONDS:
        return calendar
    with cache.lock:
        if cache.calendar is not None and time.monotonic() - cache.checked < RECHECK_SECONDS:
            return cache.calendar
        key = _stored_key()
        if cache.calendar is None or key != cache.key:
            stored = []
            if key is not None and key[0]:
                try:
                    stored = _load_stored()
                except Exception as exc:
                    logger.warning("calendar: stored sessions unreadable: %s", exc)
                    key = None
            cache.calendar = build_calendar(stored)
            cache.key = key
        cache.checked = time.monotonic()
        return cache.calendar


def refresh() -> None:
    """Look at the stored days again on the next call (the sync just stored some)."""
    _cache.checked = 0.0


def reset(*, stored: bool = True) -> None:
    """Forget everything cached. ``stored=False`` (tests): start from ``exchange_calendars`` alone
    and do not look at the database until ``refresh`` (each test has its own database contents)."""
    with _cache.lock:
        _cache.key = None
        if stored:
            _cache.calendar = None
            _cache.checked = 0.0
        else:
            _cache.calendar = build_calendar([])
            _cache.checked = time.monotonic() + 1e9


def first_calendar_day() -> dt.date:
    return current().first


def last_calendar_day() -> dt.date:
    """The last day whose session status is known (beyond it, weekdays are assumed)."""
    return current().last


def stored_range() -> tuple[dt.date, dt.date] | None:
    """The days the provider's sessions cover, or None before the first sync stored them."""
    return current().stored


def is_trading_day(day: dt.date) -> bool:
    """True when SH/SZ trade on ``day``. Outside the calendar's range: weekdays count."""
    calendar = current()
    if calendar.first <= day <= calendar.last:
        return day in calendar.session_set
    return day.weekday() < 5


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days from ``start`` to ``end`` inclusive."""
    if end < start:
        return []
    calendar = current()
    sessions = calendar.sessions
    days: list[dt.date] = []
    lo, hi = max(start, calendar.first), min(end, calendar.last)
    if lo <= hi:
        days.extend(sessions[bisect.bisect_left(sessions, lo) : bisect.bisect_right(sessions, hi)])
    # Before/after the calendar's coverage fall back to weekdays (the health endpoint warns).
    cursor = start
    while cursor < min(end + dt.timedelta(days=1), calendar.first):
        if cursor.weekday() < 5:
            days.append(cursor)
        cursor += dt.timedelta(days=1)
    cursor = max(start, calendar.last + dt.timedelta(days=1))
    while cursor <= end:
        if cursor.weekday() < 5:
            days.append(cursor)
        cursor += dt.timedelta(days=1)
    return sorted(days)


def previous_trading_day(day: dt.date) -> dt.date:
    """The last trading day strictly before ``day``."""
    cursor = day - dt.timedelta(days=1)
    while not is_trading_day(cursor):
        cursor -= dt.timedelta(days=1)
    return cursor


def next_trading_day(day: dt.date) -> dt.date:
    cursor = day + dt.timedelta(days=1)
    while not is_trading_day(cursor):
        cursor += dt.timedelta(days=1)
    return cursor


def shift_trading_days(day: dt.date, count: int) -> dt.date:
    """``day`` moved back by ``count`` trading days (``count`` >= 0)."""
    for _ in range(count):
        day = previous_trading_day(day)
    return day


def last_final_trading_day(now: dt.datetime) -> dt.date:
    """The latest trading day whose daily bar is final at ``now`` (after 15:30 Shanghai)."""
    local = now.astimezone(SHANGHAI)
    today = local.date()
    if is_trading_day(today) and local.time() >= FINAL_AFTER:
        return today
    return previous_trading_day(today)


def calendar_warning(today: dt.date) -> str:
    """Why the coming days' sessions are guesses, or ``""`` when they are known."""
    last = last_calendar_day()
    if last >= today + dt.timedelta(days=KNOWN_AHEAD_DAYS):
        return ""
    return (
        f"no trading session is known after {last:%Y-%m-%d}: the coming weekdays are assumed to be sessions "
        "(schedules may run on a holiday; past days are corrected from the provider's sessions after each "
        "sync). Upgrade exchange_calendars to get the published holidays."
    )
