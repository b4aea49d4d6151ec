"""What a sync is asked to do, as one typed, immutable record: ``SyncOptions``.

Every producer builds one — the commands (``SyncOptions.parse`` of their strings), the
django-q2 tasks and schedules, the admin's actions, the API's ``POST /api/sync-runs/`` — and
the engine (``etfs.sync.service.run_sync``) receives it whole. ``SyncRun.parameters`` stores
it (``to_json``; the kind is the row's own column) and a queued run is rebuilt from it
(``from_json``). Adding an option means a field here (with its check and its JSON) plus the
producer that sets it.

Everything is checked here, before the first request: a bad combination raises
``SyncOptionError`` naming the command-line flags, so the commands exit 2 and the API
answers 400 with the same words.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from etfs.dates import DATE_FORMATS_TEXT, parse_date
from etfs.models import SyncRun
from etfs.symbols import Symbol, parse_symbols

KINDS = (SyncRun.Kind.ETFS, SyncRun.Kind.STOCKS)


class SyncOptionError(ValueError):
    """A usage error found before any request: bad kind, symbol, date, provider or combination."""


class Scope(enum.StrEnum):
    """What a run syncs: the list and the bars (``all``), the list only, or bars of known instruments only."""

    ALL = "all"
    LIST = "list"  # --list-only
    PRICES = "prices"  # --prices-only

    @classmethod
    def from_flags(cls, *, list_only: bool, prices_only: bool) -> Scope:
        """The scope the commands' two flags ask for; both at once is a usage error."""
        if list_only and prices_only:
            raise SyncOptionError("--list-only and --prices-only exclude each other")
        return cls.LIST if list_only else cls.PRICES if prices_only else cls.ALL

    @property
    def syncs_list(self) -> bool:
        return self is not Scope.PRICES

    @property
    def syncs_prices(self) -> bool:
        return self is not Scope.LIST


def check_kind(kind: str) -> None:
    """Raise ``SyncOptionError`` (a ``ValueError``) unless ``kind`` is a sync kind."""
    if kind not in KINDS:
        raise SyncOptionError(f"unknown sync kind {kind!r} (expected one of {', '.join(KINDS)})")


def parse_symbol_option(symbols: Sequence[str] | str | None) -> tuple[Symbol, ...]:
    """``--symbols`` as given (a list of words, each possibly comma-separated, or one string):
    canonical symbols, de-duplicated, in order; ``SyncOptionError`` for a bad one or none."""
    if not symbols:
        return ()
    # "510300.SH,159919 sh512880" and ["510300.SH,159919", "sh512880"] mean the same.
    text = symbols if isinstance(symbols, str) else " ".join(symbols)
    try:
        parsed = parse_symbols(text)
    except ValueError as exc:
        raise SyncOptionError(f"--symbols: {exc}") from None
    if not parsed:
        raise SyncOptionError("--symbols names no instrument")
    return tuple(parsed)


def _as_date(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(str(value))
    except ValueError:
        raise SyncOptionError(f"--{name} {value!r} is not a date (expected {DATE_FORMATS_TEXT})") from None


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """One sync's options, checked on construction (``SyncOptionError``).

    ``workers`` None means ``MARKETDATA_CONCURRENCY``; ``provider`` None the
    ``MARKETDATA_PROVIDERS`` chain; ``funds`` lets the ETF sync run its fund-data phase (also
    subject to ``FUNDDATA_SYNC``); ``verify_adjustments`` audits instead of syncing.
    """

    kind: str
    scope: Scope = Scope.ALL
    symbols: tuple[Symbol, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    full: bool = False
    provider: str | None = None
    workers: int | None = None
    dry_run: bool = False
    funds: bool = True
    verify_adjustments: bool = False

    def __post_init__(self) -> None:
        check_kind(self.kind)
        object.__setattr__(self, "scope", Scope(self.scope))
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if self.verify_adjustments:
            self._check_audit()
        if self.start and self.end and self.start > self.end:
            raise SyncOptionError(f"--start {self.start} is after --end {self.end}")
        if self.scope is Scope.LIST and (self.start or self.end):
            raise SyncOptionError("--start/--end select bars; they make no sense with --list-only")
        if self.workers is not None and self.workers < 1:
            raise SyncOptionError(f"--workers must be at least 1, not {self.workers}")

    def _check_audit(self) -> None:
        """An audit reads whole series and writes no bars: bar options make no sense with it."""
        given = {
            "--start": self.start,
            "--end": self.end,
            "--full": self.full,
            "--list-only": self.scope is Scope.LIST,
            "--prices-only": self.scope is Scope.PRICES,
            "--dry-run": self.dry_run,
        }
        clashing = [flag for flag, value in given.items() if value]
        if clashing:
            raise SyncOptionError(f"--verify-adjustments cannot be combined with {', '.join(clashing)}")

    @classmethod
    def parse(
        cls,
        kind: str,
        *,
        symbols: Sequence[str] | str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        list_only: bool = False,
        prices_only: bool = False,
        **options: Any,
    ) -> SyncOptions:
        """The options as a command line gives them: symbols and dates as text, the scope as
        two flags; the remaining fields (``full``, ``provider``, ``workers``…) as they are."""
        return cls(
            kind=kind,
            symbols=parse_symbol_option(symbols),
            start=_as_date(start, "start"),
            end=_as_date(end, "end"),
            scope=Scope.from_flags(list_only=list_only, prices_only=prices_only),
            **options,
        )

    @property
    def symbol_names(self) -> list[str]:
        """The canonical symbols (``510300.SH``) asked for; empty for all of the kind."""
        return [s.canonical for s in self.symbols]

    def to_json(self) -> dict[str, Any]:
        """The options that differ from a plain sync of the kind, as JSON values (what
        ``SyncRun.parameters`` holds); ``from_json`` reads them back."""
        defaults = {f.name: f.default for f in fields(self) if f.name != "kind"}
        data: dict[str, Any] = {}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value == default:
                continue
            if name == "symbols":
                value = self.symbol_names
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Scope):
                value = value.value
            data[name] = value
        return data

    @classmethod
    def from_json(cls, kind: str, data: Mapping[str, Any] | None) -> SyncOptions:
        """The options ``to_json`` stored for a run of ``kind``. Rows written before the scope
        existed carry ``list_only``/``prices_only`` flags instead; both read the same."""
        data = dict(data or {})
        list_only, prices_only = bool(data.pop("list_only", False)), bool(data.pop("prices_only", False))
        scope = (
            Scope(data.pop("scope"))
            if "scope" in data
            else Scope.from_flags(list_only=list_only, prices_only=prices_only)
        )
        known = {f.name for f in fields(cls)} - {"kind", "scope"}
        values = {name: value for name, value in data.items() if name in known and value is not None}
        return cls(
            kind=kind,
            scope=scope,
            symbols=parse_symbol_option(values.pop("symbols", None)),
            start=_as_date(values.pop("start", None), "start"),
            end=_as_date(values.pop("end", None), "end"),
            **values,
        )
