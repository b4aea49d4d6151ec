"""The China A-share trading calendar (Shanghai and Shenzhen share it).

Backed by the maintained ``exchange_calendars`` package (calendar ``XSHG``) rather than a
hand-written holiday list. Its sessions are built once per process (from 1995 to the end of
the holidays the package knows, about a year ahead); outside that range every weekday counts
as a trading day, so an old installation keeps working, wrong only on holidays it cannot know
until the package is updated.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the exchanges' zone (bars, the close, the calendar), whatever TIME_ZONE is
MARKET_CLOSE = dt.time(15, 0)
# Bars are final some minutes after the close; the provider needs a moment to settle.
FINAL_AFTER = dt.time(15, 30)


@functools.lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    # Start early enough for the oldest ETFs (510050 listed in 2005) and stocks.
    return xcals.get_calendar("XSHG", start="1995-01-03")


@functools.lru_cache(maxsize=1)
def _sessions() -> tuple[dt.date, ...]:
    cal = _calendar()
    return tuple(day.date() for day in cal.sessions)


@functools.lru_cache(maxsize=1)
def _session_set() -> frozenset[dt.date]:
    return frozenset(_sessions())


def first_calendar_day() -> dt.date:
    return _sessions()[0]


def last_calendar_day() -> dt.date:
    return _sessions()[-1]


def is_trading_day(day: dt.date) -> bool:
    """True when SH/SZ trade on ``day``. Outside the calendar's range: weekdays count."""
    sessions = _sessions()
    if sessions[0] <= day <= sessions[-1]:
        return day in _session_set()
    return day.weekday() < 5


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Trading days from ``start`` to ``end`` inclusive."""
    if end < start:
        return []
    days: list[dt.date] = []
    sessions = _sessions()
    lo, hi = max(start, sessions[0]), min(end, sessions[-1])
    if lo <= hi:
        days.extend(d for d in sessions[bisect.bisect_left(sessions, lo) : bisect.bisect_right(sessions, hi)])
    # Before/after the calendar's coverage fall back to weekdays (documented limitation).
    cursor = start
    while cursor < min(end + dt.timedelta(days=1), sessions[0]):
        if cursor.weekday() < 5:
            days.append(cursor)
        cursor += dt.timedelta(days=1)
    cursor = max(start, sessions[-1] + dt.timedelta(days=1))
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
