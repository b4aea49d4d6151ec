"""Exact terms from the provider's split and distribution tables, for what qfq leaves open.

After a backfill's two requests (raw and qfq) the qfq series has fixed every ex-day and the
terms as far as its 0.001 (ETF) or 0.01 (stock) quotes tell them. hfq needs more: it
multiplies whole prices by a conversion's ratio (real: 1.110680861, to the tenth decimal)
and adds every cash payment (a stock's 0.235 CNY, below its 0.01 quote). The provider
publishes both in bulk tables, read here instead of a third request per instrument:

- funds' splits and conversions, by calendar year (``fetch_fund_splits``): a few pages a
  year for the whole market, read only for a year in which a backfilled fund split, and kept
  (``prices.AnnouncedSplit``): a year fetched after it ended never changes;
- stocks' dividends and bonus shares, by code (``fetch_stock_bonuses``, fifty stocks a
  request), read once for the stocks a run backfills.

A table's terms replace the series' reading only where the qfq series still fits them on
every day (``pin_with_tables``): a wrong, late or missing table row costs nothing but the
precision that was open anyway, and the row keeps ``source=provider``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.db import transaction

from etfs.providers.base import PriceTicks
from etfs.providers.errors import NotSupported, ProviderError
from etfs.sync.steps import mismatched_days
from prices.adjustments import Action
from prices.models import AnnouncedSplit, AnnouncedYear

logger = logging.getLogger(__name__)

# A year's table fetched this long after the year ended is final (late corrections included).
FINAL_AFTER = dt.timedelta(days=14)
STOCK_CODES_PER_REQUEST = 50


class Announced(Protocol):
    """A table row, as the providers give it (``etfs.providers.base.AnnouncedRecord``), read only."""

    @property
    def code(self) -> str: ...
    @property
    def ex_date(self) -> dt.date: ...
    @property
    def cash(self) -> Decimal: ...
    @property
    def split_ratio(self) -> Decimal: ...


@dataclass(frozen=True)
class StoredRow:
    """A stored split table row, shaped as the providers give one."""

    code: str
    ex_date: dt.date
    cash: Decimal
    split_ratio: Decimal


@dataclass(frozen=True)
class Terms:
    """One table's terms of one instrument, and which parts the table states."""

    records: tuple[Announced, ...]
    cash: bool  # the table states cash (the stock table); the fund split table states ratios only


class TermsBook:
    """The table terms one run needs: shared by the fetcher threads (which may fetch a missing
    split year, network only) and saved by the writer thread (``save``, database only)."""

    def __init__(self, provider: object, *, today: dt.date, stocks: bool) -> None:
        self.provider = provider
        self.today = today
        self.stocks = stocks  # a run syncs stocks (their table) or funds (the split table)
        self._lock = threading.Lock()
        self._years: dict[int, list[Announced]] = {}  # usable split years (stored or fetched now)
        self._fetched: dict[int, list[Announced]] = {}  # fetched in this run, not saved yet
        self._failed: set[int] = set()
        self._stocks: dict[str, list[Announced]] = {}
        self.failures: list[str] = []  # what could not be read, for the run's record

    # --- loading (calling thread) ---------------------------------------------------------------
    def load_stored_splits(self) -> None:
        """The stored split years that need no new request: final ones, and this day's."""
        usable = [
            row.year
            for row in AnnouncedYear.objects.all()
            if row.fetched_on >= dt.date(row.year + 1, 1, 1) + FINAL_AFTER or row.fetched_on >= self.today
        ]
        years: dict[int, list[Announced]] = {year: [] for year in usable}
        for row in AnnouncedSplit.objects.filter(ex_date__year__in=usable):
            years[row.ex_date.year].append(StoredRow(row.code, row.ex_date, Decimal(0), row.split_ratio))
        self._years.update(years)

    def fetch_stocks(self, codes: Iterable[str]) -> None:
        """The stock table for ``codes`` (their whole history), fifty codes a request; a table
        that cannot be read leaves those stocks' terms as the series gives them (logged)."""
        wanted = sorted(set(codes) - set(self._stocks))
        fetch = getattr(self.provider, "fetch_stock_bonuses", None)
        if not wanted or fetch is None:
            return
        for offset in range(0, len(wanted), STOCK_CODES_PER_REQUEST):
            chunk = wanted[offset : offset + STOCK_CODES_PER_REQUEST]
            try:
                records = fetch(chunk)
            except NotSupported:
                return
            except ProviderError as exc:
                self._fail(f"stock distribution table unreadable for {len(chunk)} stocks ({chunk[0]}…): {exc}")
                continue
            for code in chunk:
                self._stocks.setdefault(code, [])
            for record in records:
                if record.code in self._stocks:
                    self._stocks[record.code].append(record)

    # --- reading (fetcher threads) --------------------------------------------------------------
    def terms_for(self, code: str, actions: Sequence[Action]) -> Terms | None:
        """What the tables say of ``code``'s ``actions`` (None: nothing to read, or unreadable)."""
        if self.stocks:
            return self.stock_terms(code) if actions else None
        years = wants_split_table(actions)
        return self.split_terms(code, years) if years else None

    def stock_terms(self, code: str) -> Terms | None:
        records = self._stocks.get(code)
        return None if records is None else Terms(tuple(records), cash=True)

    def split_terms(self, code: str, years: Iterable[int]) -> Terms | None:
        """The split table's rows of ``code`` in ``years``, fetching a year not at hand (None when
        no year could be read)."""
        found: list[Announced] = []
        readable = False
        for year in sorted(set(years)):
            rows = self._split_year(year)
            if rows is not None:
                readable = True
                found.extend(row for row in rows if row.code == code)
        return Terms(tuple(found), cash=False) if readable else None

    def _split_year(self, year: int) -> list[Announced] | None:
        with self._lock:  # one fetch per year, however many fetchers ask at once
            if year in self._years:
                return self._years[year]
            fetch = getattr(self.provider, "fetch_fund_splits", None)
            if year in self._failed or fetch is None or year > self.today.year:
                return None
            try:
                rows = list(fetch(year))
            except NotSupported:
                self._failed.add(year)
                return None
            except ProviderError as exc:
                self._failed.add(year)
                self._fail(f"fund split table of {year} unreadable: {exc}")
                return None
            self._years[year] = self._fetched[year] = rows
            return rows

    def _fail(self, what: str) -> None:
        message = f"{what}; hfq of what it would have settled may be a tick off until the next ex-day or an audit"
        logger.warning(message)
        self.failures.append(message)

    # --- saving (writer thread) -----------------------------------------------------------------
    def save(self) -> None:
        """Store the split years fetched since the last save (replacing older copies)."""
        with self._lock:
            fetched, self._fetched = self._fetched, {}
        if not fetched:
            return
        with transaction.atomic():
            for year, rows in fetched.items():
                unique = {(row.code, row.ex_date): row for row in rows if row.split_ratio > 0}
                AnnouncedSplit.objects.filter(ex_date__year=year).delete()
                AnnouncedSplit.objects.bulk_create(
                    AnnouncedSplit(code=code, ex_date=day, split_ratio=row.split_ratio)
                    for (code, day), row in unique.items()
                    if day.year == year
                )
                AnnouncedYear.objects.update_or_create(
                    year=year, defaults={"fetched_on": self.today, "rows": len(unique)}
                )


def wants_split_table(actions: Sequence[Action]) -> set[int]:
    """The years whose split table could settle ``actions``: those of every split or conversion."""
    return {a.ex_date.year for a in actions if a.split_ratio != 1}


def pin_with_tables(
    raw: PriceTicks, qfq: PriceTicks, actions: Sequence[Action], terms: Terms, later: Sequence[Action] = ()
) -> tuple[list[Action], set[dt.date]]:
    """``actions`` with the table's terms where the qfq series still fits them; and the ex-dates
    whose terms came from the table.

    A table row belongs to the found action on the first bar on or after its date (a conversion
    day often has no bar; the series shows it on the next one), and keeps that action's date. A
    stock row no action stands for (cash too small to move a 0.01 quote on most days) joins where
    qfq still fits. Changes are kept only if no day then mismatches that did not before: all
    together if they fit so, else each one that does.
    """
    current = sorted(actions, key=lambda a: a.ex_date)
    if not terms.records or len(raw) < 2:
        return current, set()
    first, last = raw.days[0], raw.days[-1]
    by_day: dict[dt.date, Action] = {}
    for record in terms.records:
        if not first < record.ex_date <= last:
            continue  # before the first bar it moves nothing; after the last one ``later`` holds it
        day = _bar_on_or_after(raw.days, record.ex_date)
        before = by_day.get(day, Action(day, Decimal(0), Decimal(1)))
        by_day[day] = Action(day, before.cash + record.cash, before.split_ratio * record.split_ratio)
    baseline = set(mismatched_days(raw, qfq, [*current, *later], "qfq"))
    changes = [
        change
        for change in (_change(current, day, table, with_cash=terms.cash) for day, table in by_day.items())
        if change
    ]

    def fits(actions: list[Action]) -> bool:
        return set(mismatched_days(raw, qfq, [*actions, *later], "qfq")) <= baseline

    # All at once first: several cash amounts read to the cent only fit together (their sums do).
    everything = _applied(current, changes)
    if fits(everything):
        return everything, {day for day, _ in changes}
    pinned: set[dt.date] = set()
    for day, action in changes:  # else one by one, keeping each that still fits
        trial = _applied(current, [(day, action)])
        if fits(trial):
            current = trial
            pinned.add(day)
    return current, pinned


def _change(current: list[Action], day: dt.date, table: Action, *, with_cash: bool) -> tuple[dt.date, Action] | None:
    """The table's version of the action on ``day`` (None: the table cannot say more)."""
    action = next((a for a in current if a.ex_date == day), None)
    if action is None:  # a stock row no action stands for: cash too small to move most quotes
        return (day, table) if with_cash else None
    return day, Action(day, table.cash if with_cash else action.cash, table.split_ratio)


def _applied(current: list[Action], changes: list[tuple[dt.date, Action]]) -> list[Action]:
    replaced = {day: action for day, action in changes}
    kept = [replaced.pop(a.ex_date, a) for a in current]
    return sorted([*kept, *replaced.values()], key=lambda a: a.ex_date)


def _bar_on_or_after(days: list[dt.date], day: dt.date) -> dt.date:
    index = bisect.bisect_left(days, day)
    return days[index] if index < len(days) else day
