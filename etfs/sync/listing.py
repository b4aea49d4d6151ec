"""Instrument lists: create new instruments, update changed ones, deactivate vanished ones.

Nothing is ever deleted (bars stay with their instrument), an instrument that comes back is
reactivated, and fields a curator locked are left alone (``Instrument.apply_provider_values``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from django.db import transaction

from etfs.models import Instrument, SyncRun
from etfs.providers.base import InstrumentKind, ListingRecord, MarketDataProvider
from etfs.symbols import Symbol

logger = logging.getLogger(__name__)

# ETFs trade on Shanghai and Shenzhen only; A-share stocks also on Beijing.
LIST_REQUESTS: dict[str, tuple[InstrumentKind, tuple[str, ...]]] = {
    SyncRun.Kind.ETFS: (InstrumentKind.ETF, ("SH", "SZ")),
    SyncRun.Kind.STOCKS: (InstrumentKind.STOCK, ("SH", "SZ", "BJ")),
}
# A list that loses more than this share of the active instruments is more likely a broken
# answer than a mass delisting: refuse to deactivate from it (small lists are exempt).
MAX_VANISHED_SHARE = 0.5
MIN_VANISHED_GUARD = 10


class SuspiciousListing(Exception):
    """The list answer would deactivate too much to be believed."""


@dataclass
class ListingChanges:
    """What applying one list did (or, in a dry run, would do)."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)


def fetch_listing(provider: MarketDataProvider, kind: str) -> dict[str, ListingRecord]:
    """The provider's whole list of ``kind`` keyed by canonical symbol (several paged requests)."""
    instrument_kind, exchanges = LIST_REQUESTS[kind]
    return {record.symbol.canonical: record for record in provider.list_instruments(instrument_kind, exchanges)}


def _provider_values(record: ListingRecord) -> dict:
    return {
        "name": record.name,
        "is_etf": record.is_etf,
        "asset_type": record.asset_type,
        "price_decimals": record.decimals,
        "is_active": True,
        "delist_date": None,
    }


def _vanished(kind: str, listed: list[str], wanted: set[str] | None) -> list[Instrument]:
    """Active instruments of ``kind`` the list lacks (among ``wanted``, if given).

    A whole list that lacks too many is refused (``SuspiciousListing``): a broken answer, not
    a mass delisting.
    """
    vanished_qs = Instrument.objects.of_kind(kind).active().exclude(symbol__in=listed)
    if wanted is not None:
        vanished_qs = vanished_qs.filter(symbol__in=wanted)
    vanished = list(vanished_qs)
    if wanted is None and len(vanished) > MIN_VANISHED_GUARD:
        active = Instrument.objects.of_kind(kind).active().count()
        if len(vanished) > MAX_VANISHED_SHARE * active:
            raise SuspiciousListing(
                f"the {kind} list lacks {len(vanished)} of {active} active instruments; "
                "refusing to deactivate them from what looks like a broken answer"
            )
    return vanished


def apply_listing(
    kind: str,
    listings: dict[str, ListingRecord],
    *,
    today: dt.date,
    symbols: list[Symbol] | None = None,
    dry_run: bool = False,
    present: Collection[str] = (),
) -> ListingChanges:
    """Bring the instruments of ``kind`` in line with ``listings`` (only ``symbols`` if given).

    ``present``: symbols the list did carry, in rows the sync set aside as invalid; they are
    neither created, updated nor deactivated.
    """
    wanted = {s.canonical for s in symbols} if symbols else None
    records = {sym: rec for sym, rec in listings.items() if wanted is None or sym in wanted}
    changes = ListingChanges()
    existing = {i.symbol: i for i in Instrument.objects.filter(symbol__in=list(records))}
    vanished = _vanished(kind, [*listings, *present], wanted)

    to_create = []
    with transaction.atomic():
        for symbol, record in records.items():
            instrument = existing.get(symbol)
            if instrument is None:
                to_create.append(Instrument(symbol=symbol, code=record.symbol.code, exchange=record.symbol.exchange))
                to_create[-1].apply_provider_values(_provider_values(record))
                changes.new.append(symbol)
                continue
            was_active = instrument.is_active
            changed = instrument.apply_provider_values(_provider_values(record))
            if not changed:
                continue
            if not was_active and instrument.is_active:
                changes.reactivated.append(symbol)
            changes.updated.append(symbol)
            instrument.save(update_fields=[*changed, "updated_at"])
        for instrument in vanished:
            changed = instrument.apply_provider_values({"is_active": False, "delist_date": today})
            if "is_active" in changed:
                changes.deactivated.append(instrument.symbol)
                instrument.save(update_fields=[*changed, "updated_at"])
        if to_create:
            Instrument.objects.bulk_create(to_create, batch_size=500)
        if dry_run:  # as every dry-run write: done, counted, rolled back
            transaction.set_rollback(True)
    if changes.new or changes.deactivated or changes.reactivated:
        logger.info(
            "%s list: %d new, %d updated (%d reactivated), %d deactivated",
            kind,
            len(changes.new),
            len(changes.updated),
            len(changes.reactivated),
            len(changes.deactivated),
        )
    return changes
