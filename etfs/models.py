"""Instruments (stocks and ETFs on SH/SZ/BJ) and the record of every sync run."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from etfs.curation import Curated
from etfs.names import name_initials, normalise_name
from etfs.symbols import Symbol


class Exchange(models.TextChoices):
    SH = "SH", "Shanghai"
    SZ = "SZ", "Shenzhen"
    BJ = "BJ", "Beijing"


class AssetType(models.TextChoices):
    STOCK = "stock", "Stock"
    ETF = "etf", "ETF"
    LOF = "lof", "LOF"
    REIT = "reit", "REIT"
    INDEX = "index", "Index"


# What the ETF sync and the stock sync each cover, as conditions (querysets, counts, pages).
ETF = Q(is_etf=True)
STOCK = Q(is_etf=False, asset_type=AssetType.STOCK)


class InstrumentQuerySet(models.QuerySet["Instrument"]):
    def etfs(self) -> InstrumentQuerySet:
        return self.filter(ETF)

    def stocks(self) -> InstrumentQuerySet:
        return self.filter(STOCK)

    def active(self) -> InstrumentQuerySet:
        return self.filter(is_active=True)

    def of_kind(self, kind: str) -> InstrumentQuerySet:
        """``kind`` is a sync kind: ``etfs`` or ``stocks``."""
        if kind == SyncRun.Kind.ETFS:
            return self.etfs()
        if kind == SyncRun.Kind.STOCKS:
            return self.stocks()
        raise ValueError(f"unknown instrument kind {kind!r} (expected 'etfs' or 'stocks')")


class Instrument(Curated, models.Model):
    """A listed security. ``symbol`` (``510300.SH``) is the identity everyone shares.

    ``locked_fields`` names fields a curator decided by hand (``is_etf``, ``name``, …);
    the sync never overwrites them.
    """

    CURATABLE_FIELDS = ("is_etf", "asset_type", "name", "is_active", "list_date", "delist_date")

    symbol = models.CharField(max_length=16, unique=True, help_text="Canonical CODE.EXCHANGE, e.g. 510300.SH")
    code = models.CharField(max_length=12)
    exchange = models.CharField(max_length=2, choices=Exchange.choices)
    name = models.CharField(max_length=128, blank=True, help_text="As the provider sends it (shown as is)")
    # db_default: rows written by other programs (bulk SQL loads, benchmarks) stay valid.
    search_name = models.CharField(
        max_length=128,
        blank=True,
        editable=False,
        db_default="",
        help_text="The name for search: NFKC, spaces dropped (etfs.names)",
    )
    name_initials = models.CharField(
        max_length=128,
        blank=True,
        editable=False,
        db_default="",
        help_text="Pinyin initials of the name, for search (HJETF)",
    )
    is_etf = models.BooleanField(default=False, db_index=True)
    asset_type = models.CharField(max_length=8, choices=AssetType.choices, default=AssetType.STOCK)
    is_active = models.BooleanField(default=True)
    list_date = models.DateField(null=True, blank=True, help_text="First trading day")
    delist_date = models.DateField(null=True, blank=True, help_text="Day it vanished from the list")
    price_decimals = models.PositiveSmallIntegerField(
        default=3, help_text="Quoted price precision: 3 for funds (0.001 CNY), 2 for stocks"
    )
    provider_fields = models.JSONField(default=dict, blank=True, help_text="Raw provider fields we do not model yet")
    locked_fields = models.JSONField(
        default=list, blank=True, help_text="Fields a curator set by hand; the sync never overwrites them"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(fields=["code", "exchange"], name="instrument_code_exchange_uniq"),
            models.CheckConstraint(condition=Q(exchange__in=["SH", "SZ", "BJ"]), name="instrument_exchange_valid"),
        ]
        indexes = [
            models.Index(fields=["is_etf", "is_active"], name="instrument_kind_active_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.name}".strip()

    SEARCH_FIELDS = ("search_name", "name_initials")

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.symbol and self.code and self.exchange:
            self.symbol = f"{self.code}.{self.exchange}"
        self.refresh_search_fields()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = [*update_fields, *(f for f in self.SEARCH_FIELDS if f not in update_fields)]
        super().save(*args, **kwargs)

    def refresh_search_fields(self) -> None:
        """Derive the search columns from ``name`` (bulk writes call this themselves)."""
        self.search_name = normalise_name(self.name)
        self.name_initials = name_initials(self.name)

    @property
    def parsed_symbol(self) -> Symbol:
        return Symbol(self.code, self.exchange)

    @property
    def sync_kind(self) -> str | None:
        """The sync kind that covers this instrument (as ``of_kind``): ETFs, stocks, or None (LOF, REIT, index…)."""
        if self.is_etf:
            return SyncRun.Kind.ETFS
        if self.asset_type == AssetType.STOCK:
            return SyncRun.Kind.STOCKS
        return None

    def apply_provider_values(self, values: dict[str, Any]) -> list[str]:
        """Set provider-reported values except locked ones; return the names that changed.

        A changed name refreshes its search columns at once (bulk creates skip ``save``);
        ``save(update_fields=[..., "name"])`` writes them along."""
        changed = self.set_unlocked(values)
        if "name" in changed:
            self.refresh_search_fields()
        return changed


class SyncRunQuerySet(models.QuerySet["SyncRun"]):
    def running(self) -> SyncRunQuerySet:
        return self.filter(status=SyncRun.Status.RUNNING)

    def last_success(self, kind: str) -> SyncRun | None:
        return self.filter(kind=kind, status=SyncRun.Status.SUCCESS).order_by("-finished_at").first()


class SyncRun(models.Model):
    """One execution of a sync: what, when, triggered how, with which result.

    A row is created (status ``running``) before the first request and updated as the run
    proceeds, so a killed run is visible and the next run can tell it is stale.
    """

    class Kind(models.TextChoices):
        ETFS = "etfs", "ETFs"
        STOCKS = "stocks", "Stocks"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class Trigger(models.TextChoices):
        COMMAND = "command", "Management command"
        TASK = "task", "Scheduled task"
        ADMIN = "admin", "Admin action"
        API = "api", "API request"

    # The run's counters, in the order every report (summary, admin, API) shows them.
    COUNTERS = (
        "instruments_new",
        "instruments_updated",
        "instruments_deactivated",
        "instruments_synced",
        "bars_inserted",
        "bars_updated",
        "bars_unchanged",
        "requests",
        "retries",
        "failures",
    )

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.COMMAND)
    triggered_by = models.CharField(max_length=150, blank=True, help_text="User name or task name")
    parameters = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    instruments_new = models.PositiveIntegerField(default=0)
    instruments_updated = models.PositiveIntegerField(default=0)
    instruments_deactivated = models.PositiveIntegerField(default=0)
    instruments_synced = models.PositiveIntegerField(default=0)
    bars_inserted = models.PositiveIntegerField(default=0)
    bars_updated = models.PositiveIntegerField(default=0)
    bars_unchanged = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{symbol, error}] per failed instrument")
    fund_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="The fund-data phase: universe differences (East Money vs SSE/SZSE lists), NAV/shares counts, errors",
    )
    message = models.TextField(blank=True)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["kind", "status", "-finished_at"], name="syncrun_kind_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync #{self.pk} ({self.status})"

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    @property
    def failed_symbols(self) -> list[str]:
        return [e["symbol"] for e in self.errors or [] if e.get("symbol")]


class CalendarDayQuerySet(models.QuerySet["CalendarDay"]):
    def sessions(self) -> CalendarDayQuerySet:
        return self.filter(is_session=True)


class CalendarDay(models.Model):
    """One calendar day of the Shanghai/Shenzhen exchanges as the provider showed it: a session or not.

    Every day from the first stored to the last is a row, so the stored range is known without
    gaps; ``etfs.calendar`` reads it (cached) and falls back to ``exchange_calendars`` outside
    it. The sync keeps it (``etfs.sync.sessions``): the SSE Composite index's daily bars once,
    then each list snapshot's date.
    """

    date = models.DateField(primary_key=True)
    is_session = models.BooleanField(help_text="The exchanges traded on this day")

    objects = CalendarDayQuerySet.as_manager()

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'session' if self.is_session else 'closed'}"


from etfs.funds import FundCategory, FundDataCursor, FundProfile  # noqa: E402  (one app, two modules)

__all__ = [
    "AssetType",
    "CalendarDay",
    "Exchange",
    "FundCategory",
    "FundDataCursor",
    "FundProfile",
    "Instrument",
    "SyncRun",
]
