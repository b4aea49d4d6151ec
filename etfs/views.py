"""The landing page: what is in the database, how fresh it is, and where it has holes.

The summary is computed in a handful of aggregate queries whatever the data size; gaps are
found per instrument by comparing its bar count with the number of trading days between its
first and last bar (one GROUP BY over the bars; no bar is loaded into Python). That GROUP BY
reads every bar (about 1 s for 5 M bars on PostgreSQL), and bars only change when a sync
runs, so its result is cached until the next sync finishes (or ``GAPS_CACHE_SECONDS``).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import cast

from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from etfs.calendar import last_final_trading_day, trading_days
from etfs.models import ETF, STOCK, Instrument, SyncRun
from prices.fund_queries import largest_flows, widest_premiums
from prices.models import DailyBar, QuarantinedBar, time_to_trading_date

GAPS_SHOWN = 20
HELD_SHOWN = 20
GAPS_CACHE_SECONDS = 600


@dataclass(frozen=True)
class InstrumentGap:
    """An instrument with fewer bars than trading days between its first and last bar."""

    instrument_id: int
    symbol: str
    name: str
    first_date: dt.date
    last_date: dt.date
    bars: int
    expected: int

    @property
    def missing(self) -> int:
        return self.expected - self.bars


@dataclass(frozen=True)
class KindSync:
    """The latest run and the latest successful run of one sync kind."""

    kind: str
    label: str
    last_run: SyncRun | None
    last_success: SyncRun | None


@dataclass
class LandingSummary:
    """Everything the landing page shows, computed for the moment ``now``."""

    now: dt.datetime
    etfs: int = 0
    stocks: int = 0
    others: int = 0
    inactive: int = 0
    latest_bar_date: dt.date | None = None
    expected_bar_date: dt.date | None = None
    trading_days_behind: int = 0
    syncs: list[KindSync] = field(default_factory=list)
    gaps: list[InstrumentGap] = field(default_factory=list)
    instruments_with_gaps: int = 0
    held: list[QuarantinedBar] = field(default_factory=list)  # the newest pending, for the page
    held_count: int = 0
    premium_date: dt.date | None = None
    widest_premiums: list = field(default_factory=list)  # prices.fund_queries.Mover
    flow_date: dt.date | None = None
    largest_flows: list = field(default_factory=list)

    @property
    def is_fresh(self) -> bool:
        return self.latest_bar_date is not None and self.trading_days_behind == 0


def instrument_counts() -> dict[str, int]:
    """Active ETFs, active stocks, other active instruments, and inactive ones: one query."""
    return Instrument.objects.aggregate(
        etfs=Count("pk", filter=Q(is_active=True) & ETF),
        stocks=Count("pk", filter=Q(is_active=True) & STOCK),
        others=Count("pk", filter=Q(is_active=True) & ~ETF & ~STOCK),
        inactive=Count("pk", filter=Q(is_active=False)),
    )


def latest_bar_date() -> dt.date | None:
    """The most recent trading date of any stored bar (served by the index on ``time``)."""
    latest = DailyBar.objects.aggregate(latest=Max("time"))["latest"]
    return time_to_trading_date(latest) if latest else None


def find_gaps() -> tuple[list[InstrumentGap], int]:
    """Instruments missing bars on trading days between their first and last bar, most first.

    Suspensions show here too (an exchange halt leaves no bar): the list is where a curator
    starts looking, not a verdict. Returns the top ``GAPS_SHOWN`` and the total number.
    """
    coverage = list(
        DailyBar.objects.order_by()
        .values("instrument_id")
        .annotate(first=Min("time"), last=Max("time"), bars=Count("*"))
        .values_list("instrument_id", "first", "last", "bars")
    )
    if not coverage:
        return [], 0
    spans = [(pk, time_to_trading_date(first), time_to_trading_date(last), bars) for pk, first, last, bars in coverage]
    # One calendar walk for every instrument: position of each day among all trading days.
    sessions = trading_days(min(s[1] for s in spans), max(s[2] for s in spans))
    found = []
    for pk, first, last, bars in spans:
        expected = bisect.bisect_right(sessions, last) - bisect.bisect_left(sessions, first)
        if bars < expected:
            found.append((expected - bars, pk, first, last, bars, expected))
    found.sort(key=lambda row: (-row[0], row[1]))
    shown = found[:GAPS_SHOWN]
    names = Instrument.objects.in_bulk([row[1] for row in shown])
    gaps = [
        InstrumentGap(pk, names[pk].symbol, names[pk].name, first, last, bars, expected)
        for _missing, pk, first, last, bars, expected in shown
        if pk in names
    ]
    return gaps, len(found)


def cached_gaps(latest: dt.date | None) -> tuple[list[InstrumentGap], int]:
    """:func:`find_gaps`, reused until another sync run finishes (bars change only then).

    ``latest`` (the latest bar date) is part of the key as well, for bars written otherwise.
    """
    runs = SyncRun.objects.exclude(finished_at=None).aggregate(last=Max("finished_at"), count=Count("pk"))
    last_finished = runs["last"].timestamp() if runs["last"] else 0
    key = f"etfsync:landing-gaps:{runs['count']}:{last_finished}:{latest.isoformat() if latest else 'none'}"
    return cast(tuple[list[InstrumentGap], int], cache.get_or_set(key, find_gaps, GAPS_CACHE_SECONDS))


def sync_overview() -> list[KindSync]:
    """Last run and last success for each sync kind (two indexed queries per kind)."""
    overview = []
    for kind, label in SyncRun.Kind.choices:
        runs = SyncRun.objects.filter(kind=kind)
        overview.append(
            KindSync(
                kind=kind,
                label=label,
                last_run=runs.order_by("-started_at").first(),
                last_success=runs.last_success(kind),
            )
        )
    return overview


def build_landing_summary(now: dt.datetime) -> LandingSummary:
    """The whole landing page's content at ``now`` (injectable for tests)."""
    counts = instrument_counts()
    summary = LandingSummary(
        now=now, etfs=counts["etfs"], stocks=counts["stocks"], others=counts["others"], inactive=counts["inactive"]
    )
    summary.latest_bar_date = latest_bar_date()
    summary.expected_bar_date = last_final_trading_day(now)
    if summary.latest_bar_date is not None and summary.latest_bar_date < summary.expected_bar_date:
        later = summary.latest_bar_date + dt.timedelta(days=1)
        summary.trading_days_behind = len(trading_days(later, summary.expected_bar_date))
    summary.syncs = sync_overview()
    summary.gaps, summary.instruments_with_gaps = cached_gaps(summary.latest_bar_date)
    summary.held, summary.held_count = held_bars()
    summary.premium_date, summary.widest_premiums = widest_premiums()
    summary.flow_date, summary.largest_flows = largest_flows()
    return summary


def held_bars(limit: int = HELD_SHOWN) -> tuple[list[QuarantinedBar], int]:
    """The newest bars held for a curator (stored and provider values) and how many wait."""
    pending = QuarantinedBar.objects.filter(status=QuarantinedBar.Status.PENDING)
    return list(pending.select_related("instrument").order_by("-created_at")[:limit]), pending.count()


def landing(request: HttpRequest) -> HttpResponse:
    """``/``: counts, freshness, last syncs and gaps, with links to the admin and the API."""
    return render(request, "landing.html", {"summary": build_landing_summary(timezone.now())})
