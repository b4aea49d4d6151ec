"""Keeping the stored trading calendar (``CalendarDay``) current from the provider.

``exchange_calendars`` publishes holidays about a year ahead and its XSHG calendar ends; the
provider always knows which days traded. So after each list sync:

1. Nothing stored yet: one request for the SSE Composite index's whole daily history
   (``fetch_sessions``; a bar on every session since 1990) stores every day of its range.
2. The list snapshot quotes a day later than the last stored one: that day is a session. When
   the days between are only weekend days they are closed and nothing is asked; weekdays
   between (a holiday, or days without a sync) are read from the index, one small request.
3. After the day is final (15:30 Shanghai), a snapshot still quoting an earlier day means
   today did not trade: today is stored as closed. (Unless ``exchange_calendars`` knows
   today as a session: a snapshot that lags is believed less than a published calendar.)

Where stored days and ``exchange_calendars`` both have an opinion and differ, a warning
says so (``cross_check``); the stored ones win, as they are what the exchange did.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Max

from etfs import calendar
from etfs.calendar import FINAL_AFTER, SHANGHAI, exchange_sessions
from etfs.models import CalendarDay
from etfs.providers.base import ListingRecord, MarketDataProvider

logger = logging.getLogger(__name__)


@dataclass
class CalendarUpdate:
    """What one upkeep stored: the range, how many sessions, whether the provider was asked."""

    stored: list[tuple[dt.date, bool]] = field(default_factory=list)
    asked_provider: bool = False
    disagreements: list[dt.date] = field(default_factory=list)

    @property
    def sessions(self) -> int:
        return sum(1 for _day, is_session in self.stored if is_session)


def snapshot_day(listings: dict[str, ListingRecord], today: dt.date) -> dt.date | None:
    """The day the list quotes (not after ``today``); None when nothing traded in it.

    The day most rows quote, not the newest: one row with a wrong date must not make a
    holiday a session (suspended instruments have no quote; ties go to the later day).
    """
    days = Counter(r.quote.day for r in listings.values() if r.quote is not None and r.quote.day <= today)
    return max(days, key=lambda day: (days[day], day)) if days else None


def update_calendar(
    provider: MarketDataProvider,
    listings: dict[str, ListingRecord],
    now: dt.datetime,
    *,
    wait: Callable[[Callable[[], list[dt.date]]], list[dt.date]] = lambda ask: ask(),
) -> CalendarUpdate:
    """Store what the provider showed about sessions (see the module doc). Raises ``ProviderError``
    when the index cannot be read; the calendar then keeps what it knew. ``wait`` runs the request
    (the sync passes ``RunRecorder.beating``: the heartbeat goes on meanwhile)."""
    local = now.astimezone(SHANGHAI)
    today = local.date()
    quoted = snapshot_day(listings, today)
    last = CalendarDay.objects.aggregate(last=Max("date"))["last"]
    update = CalendarUpdate()
    days: dict[dt.date, bool] = {}
    if last is None or (quoted is not None and quoted > last and _weekdays_between(last, quoted)):
        if not provider.supports_sessions:
            return update
        start = None if last is None else last + dt.timedelta(days=1)
        sessions = wait(lambda: provider.fetch_sessions(start, today))
        update.asked_provider = True
        if sessions:
            days.update(_every_day(last + dt.timedelta(days=1) if last else sessions[0], sessions[-1], set(sessions)))
            last = max(last or sessions[-1], sessions[-1])
    if last is not None and quoted is not None and quoted > last and not _weekdays_between(last, quoted):
        days.update(_every_day(last + dt.timedelta(days=1), quoted, {quoted}))
        last = quoted
    if (
        last is not None
        and quoted is not None
        and quoted == last
        and quoted < today
        and local.time() >= FINAL_AFTER
        and not _published_session(today)
    ):
        days.update(_every_day(last + dt.timedelta(days=1), today, set()))
    if days:
        rows = sorted(days.items())
        CalendarDay.objects.bulk_create(
            [CalendarDay(date=day, is_session=is_session) for day, is_session in rows],
            update_conflicts=True,
            unique_fields=["date"],
            update_fields=["is_session"],
        )
        update.stored = rows
        update.disagreements = cross_check(rows)
        calendar.refresh()
    return update


def _weekdays_between(first: dt.date, last: dt.date) -> bool:
    """Any weekday strictly between ``first`` and ``last``?"""
    day = first + dt.timedelta(days=1)
    while day < last:
        if day.weekday() < 5:
            return True
        day += dt.timedelta(days=1)
    return False


def _every_day(first: dt.date, last: dt.date, sessions: set[dt.date]) -> dict[dt.date, bool]:
    days = {}
    day = first
    while day <= last:
        days[day] = day in sessions
        day += dt.timedelta(days=1)
    return days


def _published_session(day: dt.date) -> bool:
    exchange = exchange_sessions()
    at = bisect.bisect_left(exchange, day)
    return at < len(exchange) and exchange[at] == day


def cross_check(rows: list[tuple[dt.date, bool]]) -> list[dt.date]:
    """Days where the provider and ``exchange_calendars`` disagree (inside the latter's range); logged."""
    exchange = exchange_sessions()
    published = set(exchange)
    differ = [
        day for day, is_session in rows if exchange[0] <= day <= exchange[-1] and (day in published) != is_session
    ]
    if differ:
        logger.warning(
            "trading calendar: the provider and exchange_calendars disagree on %d day(s), e.g. %s; "
            "the provider's sessions are kept",
            len(differ),
            ", ".join(f"{d:%Y-%m-%d}" for d in differ[:5]),
        )
    return differ
