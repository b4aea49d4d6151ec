"""Where the sync applies ``validation``'s rules: the list, the snapshot, each instrument's
rules for the history path. Rejections are recorded in the run (``RunRecorder.error``) with
the reason and the row; held days go to the ``Quarantine``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction

from etfs.calendar import next_trading_day
from etfs.models import Instrument, SyncRun
from etfs.providers.base import BarRecord, InstrumentKind, ListingRecord
from etfs.symbols import Symbol
from etfs.sync.runs import RunRecorder
from etfs.sync.validation import UNLIMITED_FIRST_BARS, BarRules, bar_problem, listing_problem, price_limit, screen_moves
from prices.models import CorporateAction
from prices.quarantine import Quarantine


def screen_listings(
    listings: dict[str, ListingRecord],
    kind: str,
    today: dt.date,
    recorder: RunRecorder,
    symbols: list[Symbol] | None = None,
) -> tuple[dict[str, ListingRecord], set[str]]:
    """The list with invalid quotes removed, and the symbols to skip this run: rows off the
    rules (``validation.listing_problem``, an unreadable quote) and quotes that cannot be true.
    A run for some ``symbols`` records only their rejections."""
    instrument_kind = InstrumentKind.ETF if kind == SyncRun.Kind.ETFS else InstrumentKind.STOCK
    wanted = {s.canonical for s in symbols} if symbols else None
    screened: dict[str, ListingRecord] = {}
    rejected: set[str] = set()
    for symbol, record in listings.items():
        problem = listing_problem(record, instrument_kind) or record.problem
        if problem is None and record.quote is not None:
            rules = BarRules(symbol, record.decimals, price_limit(record.symbol, is_etf=record.is_etf), today)
            problem = bar_problem(record.quote, rules)
            if problem is not None:
                problem = f"snapshot quote: {problem}; row: {record.quote}"
                record = dataclasses.replace(record, quote=None)
        if problem is not None:
            rejected.add(symbol)
            if wanted is None or symbol in wanted:
                recorder.error(symbol, f"list row rejected: {problem}; raw: {record.raw!r:.300}")
        screened[symbol] = record
    return screened, rejected


def bar_rules(instruments: list[Instrument], today: dt.date) -> dict[int, BarRules]:
    """Each stored instrument's rules for this run, with its stored corporate actions' days."""
    action_days: dict[int, set[dt.date]] = {}
    ids = [i.pk for i in instruments if i.pk]
    for offset in range(0, len(ids), 500):
        rows = CorporateAction.objects.filter(instrument_id__in=ids[offset : offset + 500])
        for instrument_id, day in rows.values_list("instrument_id", "ex_date"):
            action_days.setdefault(instrument_id, set()).add(day)
    return {
        i.pk: BarRules(
            i.symbol,
            i.price_decimals,
            price_limit(i.parsed_symbol, is_etf=i.is_etf),
            today,
            i.list_date,
            i.delist_date,
            frozenset(action_days.get(i.pk, ())),
            unlimited_until(i.list_date),
        )
        for i in instruments
        if i.pk
    }


def unlimited_until(list_date: dt.date | None) -> dt.date | None:
    """The last of a new listing's first sessions, which trade without a price limit."""
    if list_date is None:
        return None
    day = list_date
    for _ in range(UNLIMITED_FIRST_BARS - 1):
        day = next_trading_day(day)
    return day


def screen_snapshot(
    items: list[tuple[Instrument, BarRecord]],
    rules: dict[int, BarRules],
    quarantine: Quarantine,
    recorder: RunRecorder,
) -> list[tuple[Instrument, BarRecord]]:
    """The snapshot quotes to write: each checked against its instrument's life (invalid:
    recorded, skipped) and price limit (beyond it: held for a curator, not written)."""
    kept = []
    for instrument, quote in items:
        # Today's name tells today's limit: a risk-warning stock's is narrower (``price_limit``).
        limit = price_limit(instrument.parsed_symbol, is_etf=instrument.is_etf, name=instrument.name, day=quote.day)
        rule = dataclasses.replace(rules[instrument.pk], limit=limit)
        problem = bar_problem(quote, rule)
        if problem is not None:
            recorder.error(instrument.symbol, f"snapshot quote: {problem}; row: {quote}")
            continue
        held = screen_moves([quote], rule).held
        if held:
            if recorder.dry_run:
                recorder.error(instrument.symbol, held[0][1])
            else:
                with transaction.atomic():
                    quarantine.hold_moves(instrument.pk, held)
            continue
        kept.append((instrument, quote))
    return kept
