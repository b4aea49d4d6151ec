"""Admin for price data: read-only daily bars (a hypertable of millions of rows) and corporate actions.

The bar list must stay fast on 5 M+ rows: no full-table ``COUNT(*)`` (a capped count
instead), no facet counts, no per-row instrument queries, no filter that lists every
instrument, and a default ordering an index serves (newest first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, cast

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from etfs.symbols import parse_symbol
from prices import quarantine
from prices.models import (
    AnnouncedSplit,
    AnnouncedYear,
    BarRevision,
    CorporateAction,
    DailyBar,
    DayQuerySet,
    QuarantinedBar,
)


class CappedCountPaginator(Paginator):
    """Counts at most ``CAP + 1`` rows, so paging a hypertable never scans it whole.

    Past the cap the admin shows "more than CAP" (template ``pagination.html`` of the bar
    admin) and offers the first pages; filtering by instrument or dates narrows the rest.
    """

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows = cast(QuerySet, self.object_list)  # the bar admin paginates a queryset, never a list
        return rows.order_by()[: self.CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.CAP


def _stored_text(field: str) -> Callable[[Any, DailyBar], str]:
    """A bar list column showing ``field`` as its stored decimal text ("-" when empty): Django's
    number formatting fails on a NaN an earlier version stored."""

    @admin.display(description=field)
    def column(_admin: Any, obj: DailyBar) -> str:
        value = getattr(obj, field)
        return "-" if value is None else str(value)

    return column


class InputFilter(admin.ListFilter):
    """A sidebar filter made of text inputs (``inputs``: parameter, label, HTML input type)."""

    template = "admin/input_filter.html"
    inputs: tuple[tuple[str, str, str], ...] = ()

    def __init__(self, request: HttpRequest, params: dict, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        for name, _label, _kind in self.inputs:
            if name in params:
                value = params.pop(name)[-1].strip()
                if value:
                    self.used_parameters[name] = value

    def has_output(self) -> bool:
        return True

    def value(self, name: str) -> str:
        """The stripped text entered in input ``name`` ("" when none)."""
        value = self.used_parameters.get(name)
        return value if isinstance(value, str) else ""

    def expected_parameters(self) -> list[str | None]:
        return [name for name, _label, _kind in self.inputs]

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        expected = set(self.expected_parameters())
        yield {
            "inputs": [(name, label, kind, self.used_parameters.get(name, "")) for name, label, kind in self.inputs],
            "hidden": [
                (key, value)
                for key, values in self.request.GET.lists()
                for value in values
                if key not in expected and key != "p"
            ],
            "clear_url": changelist.get_query_string(remove=[*expected, "p"]),
            "active": bool(self.used_parameters),
        }


class InstrumentSymbolFilter(InputFilter):
    """Bars of one instrument, by any symbol form; an unknown symbol shows no bars."""

    title = "instrument"
    inputs = (("symbol", "Symbol (510300.SH, sh510300, 510300)", "text"),)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value("symbol")
        if not value:
            return queryset
        try:
            symbol = parse_symbol(value)
        except ValueError:
            return queryset.none()
        return queryset.filter(instrument__symbol=symbol.canonical)


class TradingDateFilter(InputFilter):
    """Bars between two trading dates (inclusive); either end may be left open."""

    title = "trading date"
    inputs = (("date_from", "From", "date"), ("date_to", "To", "date"))

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        start = _parse_date(self.value("date_from"))
        end = _parse_date(self.value("date_to"))
        return cast(DayQuerySet, queryset).between(start, end) if (start or end) else queryset


def _parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@admin.register(DailyBar)
class DailyBarAdmin(admin.ModelAdmin):
    """Read-only browsing of raw (unadjusted) daily bars by instrument and date range."""

    list_display = ("instrument_symbol", "trading_date", "open_", "high_", "low_", "close_", "volume", "amount_")
    list_select_related = ("instrument",)
    list_filter = (InstrumentSymbolFilter, TradingDateFilter)
    raw_id_fields = ("instrument",)
    ordering = ("-time", "instrument")
    sortable_by = ("trading_date",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100

    @admin.display(description="instrument", ordering="instrument__symbol")
    def instrument_symbol(self, obj: DailyBar) -> str:
        return obj.instrument.symbol

    @admin.display(description="date", ordering="time")
    def trading_date(self, obj: DailyBar) -> dt.date:
        return obj.trading_date

    open_ = _stored_text("open")
    high_ = _stored_text("high")
    low_ = _stored_text("low")
    close_ = _stored_text("close")
    amount_ = _stored_text("amount")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bars come from the sync only

    def has_change_permission(self, request: HttpRequest, obj: DailyBar | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DailyBar | None = None) -> bool:
        return False


@admin.register(CorporateAction)
class CorporateActionAdmin(admin.ModelAdmin):
    """Ex-days behind qfq/hfq prices and how each was found: the provider's adjusted series
    (the sync), its split or distribution table (exact terms the series confirmed), the list
    snapshot (unconfirmed: the series could not be read), or a curator.
    Curators may add or correct them; what they save is ``manual`` and the sync leaves it."""

    list_display = ("instrument", "ex_date", "cash", "split_ratio", "source", "updated_at")
    list_select_related = ("instrument",)
    list_filter = ("source", "ex_date")
    search_fields = ("instrument__symbol", "instrument__name")
    raw_id_fields = ("instrument",)
    readonly_fields = ("source", "created_at", "updated_at")
    ordering = ("-ex_date", "instrument")
    fields = ("instrument", "ex_date", "cash", "split_ratio", "source", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: CorporateAction, form: Any, change: bool) -> None:  # noqa: FBT001 (Django's signature)
        """A row written in the admin is the curator's word: mark it ``manual``."""
        obj.source = CorporateAction.Source.MANUAL
        super().save_model(request, obj, form, change)


class ProviderTableAdmin(admin.ModelAdmin):
    """A provider's table as the sync keeps it: read only (a curator corrects an instrument's
    terms on its corporate action, which the sync then never touches)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AnnouncedSplit)
class AnnouncedSplitAdmin(ProviderTableAdmin):
    """East Money's fund split/conversion table, where a ``table`` row's ratio came from."""

    list_display = ("code", "ex_date", "split_ratio")
    search_fields = ("code",)
    list_filter = ("ex_date",)
    ordering = ("-ex_date", "code")


@admin.register(AnnouncedYear)
class AnnouncedYearAdmin(ProviderTableAdmin):
    """Which years of the split table are stored, and on which trading day each was read."""

    list_display = ("year", "fetched_on", "rows")
    ordering = ("-year",)


def _values_table(old: dict | None, new: dict | None) -> str:
    """Old and new values side by side, changed ones marked (the curator's whole decision)."""
    rows = []
    for name in ("open", "high", "low", "close", "volume", "amount"):
        before = "—" if old is None else old.get(name)
        after = "—" if new is None else new.get(name)
        mark = ' style="font-weight:bold;color:#b00"' if before != after else ""
        rows.append(format_html("<tr{}><th>{}</th><td>{}</td><td>{}</td></tr>", mark_safe(mark), name, before, after))
    return format_html(
        '<table class="quarantine-values"><tr><th></th><th>stored</th><th>provider</th></tr>{}</table>',
        mark_safe("".join(rows)),
    )


@admin.register(QuarantinedBar)
class QuarantinedBarAdmin(admin.ModelAdmin):
    """Bars the sync held back: the stored values beside the provider's, and the curator's
    two answers. Accepting writes the provider's values (and logs a revision); rejecting keeps
    the stored bar, and the sync does not hold the same values again."""

    list_display = ("instrument", "day", "kind", "status", "values", "reason", "created_at")
    list_select_related = ("instrument",)
    list_filter = ("status", "kind")
    search_fields = ("instrument__symbol", "instrument__name")
    ordering = ("-created_at",)
    readonly_fields = (
        "instrument",
        "day",
        "kind",
        "status",
        "reason",
        "values",
        "sync_run",
        "created_at",
        "decided_at",
        "decided_by",
    )
    fields = readonly_fields
    actions = ("accept_selected", "reject_selected")

    @admin.display(description="stored → provider")
    def values(self, obj: QuarantinedBar) -> str:
        return _values_table(obj.old, obj.new)

    @admin.action(description="Accept: write the provider's values", permissions=["change"])
    def accept_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        pending = list(queryset.filter(status=QuarantinedBar.Status.PENDING))
        for held in pending:
            quarantine.accept(held, request.user.get_username())
        self.message_user(request, f"Accepted {len(pending)} held bar(s); their values are stored.", messages.SUCCESS)

    @admin.action(description="Reject: keep the stored bar", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        pending = list(queryset.filter(status=QuarantinedBar.Status.PENDING))
        for held in pending:
            quarantine.reject(held, request.user.get_username())
        self.message_user(request, f"Rejected {len(pending)} held bar(s); the stored bars stay.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the sync holds bars; curators decide


@admin.register(BarRevision)
class BarRevisionAdmin(admin.ModelAdmin):
    """Every change to a stored bar: provider revisions small enough to apply, accepted holds."""

    list_display = ("instrument", "day", "values", "reason", "sync_run", "created_at")
    list_select_related = ("instrument",)
    search_fields = ("instrument__symbol", "instrument__name")
    ordering = ("-created_at",)

    @admin.display(description="old → new")
    def values(self, obj: BarRevision) -> str:
        return _values_table(obj.old, obj.new)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BarRevision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BarRevision | None = None) -> bool:
        return False
