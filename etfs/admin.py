"""Admin for curators: instruments (with chart and curation actions) and sync runs.

Curation is sticky: whatever a curator sets here by hand (through an action or the change
form) is added to ``Instrument.locked_fields``, which the sync never overwrites.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from etfs.charts import RANGES, load_price_series, normalise_adjust, normalise_range, render_price_chart
from etfs.fund_admin import (
    FundCategoryFilter,
    FundCompanyFilter,
    FundProfileInline,
    TrackingIndexFilter,
    fund_report_html,
    lock_edited_facts,
)
from etfs.fund_charts import load_fund_chart_data, render_nav_chart, render_shares_chart
from etfs.models import AssetType, FundProfile, Instrument, SyncRun
from etfs.names import normalise_search_term
from etfs.symbols import parse_symbol
from etfs.sync.options import SyncOptions
from etfs.tasks import enqueue_sync
from prices.adjustments import ADJUSTS
from prices.models import DailyBar, time_to_trading_date
from prices.queries import with_bar_extent

RECENT_BARS = 10

STATUS_COLOURS: dict[str, str] = {
    SyncRun.Status.QUEUED: "#6c757d",
    SyncRun.Status.RUNNING: "#1f6feb",
    SyncRun.Status.SUCCESS: "#1a7f37",
    SyncRun.Status.PARTIAL: "#bf8700",
    SyncRun.Status.FAILED: "#cf222e",
    SyncRun.Status.SKIPPED: "#8c959f",
}


def enqueue_admin_sync(request: HttpRequest, kind: str, symbols: list[str]) -> SyncRun:
    """Queue a price sync of ``symbols`` on behalf of the admin user (inline when Q_CLUSTER says so)."""
    options = SyncOptions.parse(kind, symbols=symbols)
    return enqueue_sync(options, trigger=SyncRun.Trigger.ADMIN, triggered_by=request.user.get_username())


def _report_run(model_admin: admin.ModelAdmin, request: HttpRequest, run: SyncRun, count: int) -> None:
    url = reverse("admin:etfs_syncrun_change", args=[run.pk])
    level = messages.ERROR if run.status == SyncRun.Status.FAILED else messages.SUCCESS
    model_admin.message_user(
        request,
        format_html(
            '{} sync #{} for {} instrument(s): {}. <a href="{}">See the run</a>.',
            run.get_kind_display(),
            run.pk,
            count,
            run.get_status_display().lower(),
            url,
        ),
        level,
    )


class IsEtfFilter(admin.BooleanFieldListFilter):
    """The ``is_etf`` filter titled the way curators speak."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "ETF"


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    """Instruments with their bar coverage; annotated in two subqueries, never a query per row."""

    list_display = (
        "symbol",
        "name",
        "exchange",
        "etf",
        "asset_type",
        "active",
        "list_date",
        "last_bar_date",
        "bar_count",
    )
    list_display_links = ("symbol", "name")
    list_filter = (
        ("is_etf", IsEtfFilter),
        "exchange",
        "is_active",
        "asset_type",
        FundCategoryFilter,
        FundCompanyFilter,
        TrackingIndexFilter,
    )
    search_fields = ("code", "symbol", "name", "search_name", "name_initials")
    search_help_text = (
        "Code, symbol in any form (510300, sh510300, 510300.XSHG), part of the name (full-width or not, "
        "spaces ignored) or its pinyin initials (HJETF)."
    )
    ordering = ("symbol",)
    list_per_page = 100
    actions = ("sync_prices_now", "mark_as_etf", "mark_as_not_etf", "deactivate")
    readonly_fields = ("symbol", "code", "exchange", "provider_fields", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("symbol", "code", "exchange", "name", "is_etf", "asset_type", "is_active")}),
        ("Listing", {"fields": ("list_date", "delist_date", "price_decimals")}),
        (
            "Curation",
            {
                "fields": ("locked_fields",),
                "description": "Fields changed here are locked automatically: the sync will not overwrite them.",
            },
        ),
        ("Provider", {"classes": ("collapse",), "fields": ("provider_fields", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Instrument | None = None) -> tuple[str, ...]:
        """Code and exchange are the identity: typed when adding by hand, fixed afterwards."""
        if obj is None:
            return ("symbol", "provider_fields", "created_at", "updated_at")
        return self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Instrument]:
        return with_bar_extent(super().get_queryset(request))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Instrument], search_term: str
    ) -> tuple[QuerySet[Instrument], bool]:
        """Search normalised names (NFKC, spaces dropped) and also find an instrument by any symbol form."""
        results, may_have_duplicates = super().get_search_results(
            request, queryset, normalise_search_term(search_term) or search_term
        )
        try:
            symbol = parse_symbol(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(symbol=symbol.canonical), may_have_duplicates

    @admin.display(description="ETF", boolean=True, ordering="is_etf")
    def etf(self, obj: Instrument) -> bool:
        return obj.is_etf

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj: Instrument) -> bool:
        return obj.is_active

    @admin.display(description="last bar", ordering="last_bar_time")
    def last_bar_date(self, obj: Instrument) -> dt.date | None:
        time = getattr(obj, "last_bar_time", None)
        return time_to_trading_date(time) if time else None

    @admin.display(description="bars")
    def bar_count(self, obj: Instrument) -> int:
        return getattr(obj, "bar_count", None) or 0

    def get_inlines(self, request: HttpRequest, obj: Instrument | None) -> list:
        """The fund facts, on ETFs whose facts exist (the ETF sync creates them)."""
        if obj is None or not obj.is_etf or not FundProfile.objects.filter(instrument=obj).exists():
            return []
        return [FundProfileInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:  # noqa: FBT001 (Django's signature)
        if formset.model is FundProfileInline.model:
            lock_edited_facts(formset)
        super().save_formset(request, form, formset, change)

    def save_model(self, request: HttpRequest, obj: Instrument, form: Any, change: bool) -> None:  # noqa: FBT001 (Django's signature)
        """Lock every curatable field the curator changed, so the next sync keeps their value."""
        obj.lock_edited(form.changed_data)
        super().save_model(request, obj, form, change)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> Any:
        instrument = self.get_object(request, object_id)
        if instrument is not None:
            extra_context = {**(extra_context or {}), **self.chart_context(request, instrument)}
        return super().change_view(request, object_id, form_url, extra_context)

    def chart_context(self, request: HttpRequest, instrument: Instrument) -> dict[str, Any]:
        """What the change page shows above the form: chart, range/adjust links, recent bars, API links."""
        range_key = normalise_range(request.GET.get("range"))
        adjust = normalise_adjust(request.GET.get("adjust"))
        series = load_price_series(instrument, range_key=range_key, adjust=adjust)
        keep = {k: str(v) for k, v in request.GET.items() if k not in {"range", "adjust"}}

        def link(**changes: str) -> str:
            return "?" + urlencode({**keep, "range": range_key, "adjust": adjust, **changes})

        recent = DailyBar.objects.filter(instrument_id=instrument.pk).order_by("-time")[:RECENT_BARS]
        api_root = f"{get_script_prefix()}api/instruments/{instrument.symbol}/"
        fund: dict[str, Any] = {}
        if instrument.is_etf:
            data = load_fund_chart_data(instrument, range_key=range_key)
            etf_root = f"{get_script_prefix()}api/etfs/{instrument.symbol}/"
            fund = {
                "nav_chart_svg": render_nav_chart(data),
                "shares_chart_svg": render_shares_chart(data),
                "fund_api_links": [
                    ("fund facts", etf_root),
                    ("NAV", f"{etf_root}nav/"),
                    ("shares", f"{etf_root}shares/"),
                ],
            }
        return {
            **fund,
            "chart_svg": render_price_chart(series),
            "chart_series": series,
            "chart_ranges": [(key, link(range=key), key == range_key) for key in RANGES],
            "chart_adjusts": [(key, link(adjust=key), key == adjust) for key in ADJUSTS],
            "recent_bars": [_shown(bar) for bar in recent],
            "api_links": [("instrument", api_root), ("daily bars", f"{api_root}bars/")],
        }

    @admin.action(description="Sync prices now", permissions=["change"])
    def sync_prices_now(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        by_kind: dict[str, list[str]] = defaultdict(list)
        skipped = []
        for instrument in queryset.only("symbol", "is_etf", "asset_type"):
            kind = instrument.sync_kind
            if kind is None:
                skipped.append(instrument.symbol)
            else:
                by_kind[kind].append(instrument.symbol)
        for kind, symbols in sorted(by_kind.items()):
            run = enqueue_admin_sync(request, kind, symbols)
            _report_run(self, request, run, len(symbols))
        if skipped:
            self.message_user(
                request,
                f"Not synced (neither ETF nor stock, no sync covers them): {', '.join(skipped)}",
                messages.WARNING,
            )

    @admin.action(description="Mark as ETF (locked against the sync)", permissions=["change"])
    def mark_as_etf(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        changed = self._curate(queryset, is_etf=True, asset_type=AssetType.ETF)
        self.message_user(request, f"Marked {changed} instrument(s) as ETF; the flag is locked.", messages.SUCCESS)

    @admin.action(description="Mark as not ETF (locked against the sync)", permissions=["change"])
    def mark_as_not_etf(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        changed = self._curate(queryset, is_etf=False, asset_type=AssetType.STOCK)
        self.message_user(request, f"Marked {changed} instrument(s) as not ETF; the flag is locked.", messages.SUCCESS)

    @admin.action(description="Deactivate (locked against the sync)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> None:
        changed = self._curate(queryset, is_active=False)
        self.message_user(request, f"Deactivated {changed} instrument(s); the sync will not reactivate them.")

    def _curate(self, queryset: QuerySet[Instrument], **values: Any) -> int:
        """Set ``values`` on every selected instrument and lock those fields; one bulk UPDATE."""
        instruments = list(queryset.only("pk", "locked_fields", *values))
        for instrument in instruments:
            for field, value in values.items():
                setattr(instrument, field, value)
            instrument.lock(*values)
        Instrument.objects.bulk_update(instruments, [*values, "locked_fields"])
        return len(instruments)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    """Sync runs are records: read-only, coloured by status, with a way to re-run what failed."""

    list_display = (
        "id",
        "kind",
        "coloured_status",
        "trigger",
        "triggered_by",
        "started_at",
        "duration_display",
        "instruments_synced",
        "bars_inserted",
        "bars_updated",
        "failed_count",
    )
    list_display_links = ("id", "kind")
    list_filter = ("kind", "status", "trigger")
    search_fields = ("triggered_by", "message")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    actions = ("rerun_failed",)
    fieldsets = (
        (None, {"fields": ("kind", "coloured_status", "trigger", "triggered_by", "parameters", "message")}),
        ("Timing", {"fields": ("started_at", "finished_at", "heartbeat_at", "duration_display")}),
        (
            "Counts",
            {
                "fields": (
                    ("instruments_new", "instruments_updated", "instruments_deactivated", "instruments_synced"),
                    ("bars_inserted", "bars_updated", "bars_unchanged"),
                    ("requests", "retries", "failures"),
                )
            },
        ),
        ("Errors per instrument", {"fields": ("errors_table",)}),
        ("Fund data (ETF universe, NAV, shares)", {"fields": ("fund_report_display",)}),
    )
    readonly_fields = (
        "kind",
        "coloured_status",
        "trigger",
        "triggered_by",
        "parameters",
        "message",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "duration_display",
        *SyncRun.COUNTERS,
        "errors_table",
        "fund_report_display",
    )

    @admin.display(description="fund data")
    def fund_report_display(self, obj: SyncRun) -> str:
        return fund_report_html(obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are created by the sync, never by hand

    @admin.display(description="status", ordering="status")
    def coloured_status(self, obj: SyncRun) -> str:
        colour = STATUS_COLOURS.get(obj.status, "#6c757d")
        return format_html(
            '<span class="syncrun-status syncrun-status-{}" style="color:#fff;background:{};padding:1px 7px;'
            'border-radius:9px;font-weight:600">{}</span>',
            obj.status,
            colour,
            obj.get_status_display(),
        )

    @admin.display(description="duration")
    def duration_display(self, obj: SyncRun) -> str:
        if obj.status == SyncRun.Status.QUEUED or obj.started_at is None:
            return "–"
        text = format_duration(obj.duration or 0.0)
        return text if obj.finished_at else f"{text} so far"

    @admin.display(description="failed")
    def failed_count(self, obj: SyncRun) -> int:
        return len(obj.errors or [])

    @admin.display(description="errors")
    def errors_table(self, obj: SyncRun) -> str:
        errors = obj.errors or []
        if not errors:
            return "None"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((e.get("symbol", "–"), e.get("error", "")) for e in errors)
        )
        return format_html('<table class="syncrun-errors"><tr><th>symbol</th><th>error</th></tr>{}</table>', rows)

    @admin.action(description="Re-run failed instruments", permissions=["change"])
    def rerun_failed(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        """Queue, per selected run, a new sync of exactly the instruments that failed in it."""
        nothing = []
        for run in queryset.only("pk", "kind", "errors"):
            symbols = sorted(set(run.failed_symbols))
            if not symbols:
                nothing.append(f"#{run.pk}")
                continue
            new_run = enqueue_admin_sync(request, run.kind, symbols)
            _report_run(self, request, new_run, len(symbols))
        if nothing:
            self.message_user(request, f"No failed instruments in run(s) {', '.join(nothing)}.", messages.WARNING)

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        # Viewing a run must not offer to edit it; the action needs the model's change permission.
        return super().has_change_permission(request, obj) if obj is None else False


def format_duration(seconds: float) -> str:
    """``42.1 s``, ``3 min 5 s``, ``2 h 4 min``: short enough for a list column."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _shown(bar: DailyBar) -> DailyBar:
    """A bar for a template: a non-finite number (NaN stored by an earlier version) as text,
    which Django's number formatting cannot take."""
    for name in ("open", "high", "low", "close", "amount"):
        value = getattr(bar, name)
        if isinstance(value, Decimal) and not value.is_finite():
            setattr(bar, name, str(value))
    return bar
