"""Price bars and corporate actions.

Bars store *unadjusted* prices as the exchange quoted them; forward (qfq) and backward (hfq)
adjusted prices are derived at query time from ``CorporateAction`` rows, because East Money
adjusts cash distributions additively and splits multiplicatively (one multiplicative
factor per day cannot reproduce its qfq), and because qfq history changes after every
distribution while raw history does not.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from django.db import models
from django.db.models import F, Q
from timescale.db.models.fields import TimescaleDateTimeField

from etfs.calendar import SHANGHAI


class DecimalSpec(TypedDict):
    """``DecimalField`` keyword arguments shared by several columns (typed, so ``**`` checks)."""

    max_digits: int
    decimal_places: int


# Prices: up to 10^11 CNY with 0.001 resolution (ETFs quote 0.001, stocks 0.01).
PRICE: DecimalSpec = {"max_digits": 14, "decimal_places": 3}


def trading_date_to_time(day: dt.date) -> dt.datetime:
    """The bar timestamp of a trading date: that date at 00:00 Asia/Shanghai."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def time_to_trading_date(value: dt.datetime) -> dt.date:
    """Inverse of :func:`trading_date_to_time`, whatever zone the datetime carries."""
    return value.astimezone(SHANGHAI).date()


class DayQuerySet(models.QuerySet):
    """Rows of instruments by trading day: daily bars and the fund tables (``TradingDayRow``)."""

    def for_instrument(self, instrument_id: int) -> DayQuerySet:
        return self.filter(instrument_id=instrument_id)

    def between(self, start: dt.date | None = None, end: dt.date | None = None) -> DayQuerySet:
        qs = self
        if start is not None:
            qs = qs.filter(time__gte=trading_date_to_time(start))
        if end is not None:
            qs = qs.filter(time__lt=trading_date_to_time(end + dt.timedelta(days=1)))
        return qs


class TradingDayRow(models.Model):
    """One row per instrument (the subclass's ``instrument``) and trading day: ``time`` is the trading
    date at 00:00 Asia/Shanghai, what every such table (``DailyBar``, the fund tables) is keyed on.

    On TimescaleDB each is a hypertable with one-year chunks: a table of daily rows grows by only
    ~244 rows per instrument per year, so a year of the whole market fits comfortably in memory as
    one chunk, a 20-year backfill makes ~20 chunks rather than hundreds, and the common query
    ("one instrument, one year") touches one or two chunks.
    """

    CHUNK_INTERVAL = "365 days"

    time = TimescaleDateTimeField(interval=CHUNK_INTERVAL)

    objects = DayQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["instrument", "time"]

    @property
    def trading_date(self) -> dt.date:
        return time_to_trading_date(self.time)


def one_row_per_day(table: str) -> models.UniqueConstraint:
    """The key of a ``TradingDayRow`` table (``table``: the constraint's prefix, ``dailybar``)."""
    return models.UniqueConstraint(fields=["instrument", "time"], name=f"{table}_instrument_time_uniq")


def day_index(table: str) -> models.Index:
    """The index of a ``TradingDayRow`` table by day alone (every instrument on one day: cross-sections)."""
    return models.Index(fields=["time"], name=f"{table}_time_idx")


class BarBase(models.Model):
    """Fields shared by every bar table (daily now; minute bars get their own hypertable)."""

    instrument = models.ForeignKey("etfs.Instrument", on_delete=models.PROTECT, related_name="+")
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.BigIntegerField(help_text="Shares (East Money reports lots of 100; we store shares)")
    amount = models.DecimalField(
        max_digits=20,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Turnover in CNY; empty when the provider did not report it (never a made-up 0)",
    )

    objects = DayQuerySet.as_manager()

    class Meta:
        abstract = True


class DailyBar(TradingDayRow, BarBase):
    """One unadjusted daily bar; ``time`` is the trading date at 00:00 Asia/Shanghai.

    One-year chunks on TimescaleDB (``TradingDayRow``): a year of the whole A-share market plus
    every ETF is ~7,000 instruments, ~1.7 M rows, ~200 MB with indexes.
    """

    # No index of its own: the unique (instrument, time) index starts with it and serves every
    # lookup by instrument; a second one cost each backfilled row another index insert.
    # No database foreign key either: PostgreSQL checks one row by one query, ~4 µs a row,
    # 40 % of a backfill's write time (measured). Its two guarantees stay, set-based: the
    # writer locks each instrument of a batch once (``FOR KEY SHARE``, the lock the foreign
    # key takes per row) and refuses bars of a missing one; deleting an instrument that has
    # bars is refused by Django (PROTECT) and, on PostgreSQL, by a trigger (migration 0003).
    instrument = models.ForeignKey(
        "etfs.Instrument",
        on_delete=models.PROTECT,
        related_name="daily_bars",
        db_index=False,
        db_constraint=False,
    )

    class Meta(TradingDayRow.Meta):
        constraints = [
            one_row_per_day("dailybar"),
            models.CheckConstraint(condition=Q(high__gte=F("low")), name="dailybar_high_gte_low"),
            models.CheckConstraint(condition=Q(volume__gte=0), name="dailybar_volume_nonneg"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="dailybar_amount_nonneg"),
            models.CheckConstraint(condition=Q(low__gt=0), name="dailybar_low_positive"),
        ]
        indexes = [day_index("dailybar")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.trading_date} C={self.close}"


class CorporateAction(models.Model):
    """An ex-day: a cash distribution and/or a split that breaks raw price continuity.

    On ``ex_date`` the exchange's reference previous close is
    ``(previous_close - cash) / split_ratio``. Forward adjustment (qfq) of an earlier price p
    applies every later action in date order, ``p -> (p - cash) / split_ratio``; backward
    adjustment (hfq) of a price on or after ``ex_date`` applies the inverse,
    ``p -> p * split_ratio + cash``, for every action up to that day, latest first.
    """

    class Source(models.TextChoices):
        PROVIDER = "provider", "Provider's adjusted series"
        TABLE = "table", "Provider's distribution table, checked against its qfq series"
        SNAPSHOT = "snapshot", "List snapshot (f18), unconfirmed"
        MANUAL = "manual", "Entered by a curator"
        DERIVED = "derived", "Quotes (close - change), legacy"

    instrument = models.ForeignKey("etfs.Instrument", on_delete=models.CASCADE, related_name="corporate_actions")
    ex_date = models.DateField()
    cash = models.DecimalField(max_digits=14, decimal_places=4, default=0, help_text="CNY per share before the split")
    # Ten decimals: conversion ratios are announced that precisely (159919: 1.110680861), and
    # hfq multiplies whole prices by them.
    split_ratio = models.DecimalField(
        max_digits=20, decimal_places=10, default=1, help_text="New shares per old share (2 = 1:2 split)"
    )
    source = models.CharField(
        max_length=16,
        choices=Source.choices,
        default=Source.MANUAL,
        help_text="How the action was found; the sync never overwrites a manual row",
    )
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instrument", "ex_date"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "ex_date"], name="corporateaction_instrument_day_uniq"),
            models.CheckConstraint(condition=Q(split_ratio__gt=0), name="corporateaction_ratio_positive"),
            models.CheckConstraint(condition=Q(cash__gte=0), name="corporateaction_cash_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} ex {self.ex_date}: cash {self.cash}, ratio {self.split_ratio}"


def bar_values(source: object) -> dict[str, str | int | None]:
    """A bar's six values as JSON-safe text (prices and amount exact), from a ``DailyBar``,
    a ``BarRecord`` or anything with those attributes; what quarantine and revision rows keep."""
    values: dict[str, str | int | None] = {}
    for name in ("open", "high", "low", "close", "amount"):
        value = getattr(source, name)
        values[name] = None if value is None else str(value)
    volume = source.volume  # type: ignore[attr-defined]
    values["volume"] = int(volume) if isinstance(volume, int) else str(volume)
    return values


class AnnouncedSplit(models.Model):
    """A row of East Money's fund split/conversion table (``dt=9``), kept per calendar year.

    A backfill reads a conversion's exact ratio here (qfq quotes cannot fix an odd ratio's last
    decimals, and hfq multiplies whole prices by it); a year's table, fetched once that year
    is over, is final and never fetched again (``AnnouncedYear``).
    """

    code = models.CharField(max_length=6)
    ex_date = models.DateField()
    split_ratio = models.DecimalField(max_digits=20, decimal_places=10, help_text="Units after per unit before")

    class Meta:
        ordering = ["ex_date", "code"]
        constraints = [
            models.UniqueConstraint(fields=["code", "ex_date"], name="announcedsplit_code_day_uniq"),
            models.CheckConstraint(condition=Q(split_ratio__gt=0), name="announcedsplit_ratio_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.ex_date}: {self.split_ratio}"


class AnnouncedYear(models.Model):
    """On which trading day (the run's, not the wall clock's) one calendar year of the split
    table was fetched, and how many rows it held."""

    year = models.PositiveSmallIntegerField(unique=True)
    fetched_on = models.DateField()
    rows = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"splits {self.year} ({self.rows} rows, fetched {self.fetched_on})"


class QuarantinedBar(models.Model):
    """A provider's bar held back for a curator: plausible-looking, but impossible without an
    event we do not know of (a move beyond the price limit), or a revision of a stored bar
    that changes a price by more than a tick or two. The stored bar (``old``) stays as it is
    until a curator accepts ``new`` (it is written then) or rejects it (nothing changes; the
    same values are not held again)."""

    class Kind(models.TextChoices):
        MOVE = "move", "Move beyond the price limit"
        REVISION = "revision", "Revision of a stored bar"
        STORED = "stored", "Invalid row found in the database"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    instrument = models.ForeignKey("etfs.Instrument", on_delete=models.CASCADE, related_name="quarantined_bars")
    day = models.DateField(help_text="Trading date of the bar")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.TextField()
    old = models.JSONField(null=True, blank=True, help_text="The stored bar when it was held (null: none stored)")
    new = models.JSONField(null=True, blank=True, help_text="The provider's values (null: the stored row is removed)")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    sync_run = models.ForeignKey("etfs.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "day"], condition=Q(status="pending"), name="quarantinedbar_one_pending_per_day"
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="quarantinedbar_status_idx")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.day} {self.kind} ({self.status})"


class BarRevision(models.Model):
    """A change to a stored bar, with what it was and what it became: provider revisions
    small enough to apply (a volume or amount correction, a price moved by a tick or two)
    and quarantined bars a curator accepted."""

    instrument = models.ForeignKey("etfs.Instrument", on_delete=models.CASCADE, related_name="bar_revisions")
    day = models.DateField()
    old = models.JSONField(null=True, blank=True, help_text="null: no bar was stored")
    new = models.JSONField(null=True, blank=True, help_text="null: the stored bar was removed")
    reason = models.CharField(max_length=200, blank=True)
    sync_run = models.ForeignKey("etfs.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["instrument", "day"], name="barrevision_instrument_day_idx")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.day} revised"


# The fund tables live in their own module; importing them here registers them with this app
# (the aliases mark them as re-exported: ``from prices.models import FundNav`` works).
from prices.fund_models import FundNav as FundNav  # noqa: E402
from prices.fund_models import FundQuote as FundQuote  # noqa: E402
from prices.fund_models import FundShares as FundShares  # noqa: E402
