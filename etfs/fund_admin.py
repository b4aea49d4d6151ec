"""Admin pieces for ETFs as funds: the facts inline (curation locks), fund filters, run summaries."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from etfs.funds import FundCategory, FundProfile
from etfs.models import Instrument, SyncRun
from prices.admin import InputFilter


class FundProfileInline(admin.StackedInline):
    """The fund facts under an ETF's form; a field a curator edits is locked against the sync."""

    model = FundProfile
    can_delete = False
    max_num = 1
    extra = 0
    verbose_name = "fund facts"
    verbose_name_plural = "fund facts"
    fields = (
        ("category", "t0"),
        ("tracking_index_code", "tracking_index_name"),
        ("fund_company", "custodian"),
        ("inception_date", "management_fee", "custody_fee"),
        "locked_fields",
        ("fund_type", "facts_fetched_at"),
    )
    readonly_fields = ("fund_type", "facts_fetched_at")


def lock_edited_facts(formset: Any) -> None:
    """Before saving the inline: lock every curatable fact the curator changed."""
    for form in formset.forms:
        if not form.has_changed() or form.cleaned_data.get("DELETE"):
            continue
        form.instance.lock_edited(form.changed_data)


class FundCategoryFilter(admin.SimpleListFilter):
    title = "fund category"
    parameter_name = "category"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(FundCategory.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> QuerySet[Instrument]:
        return queryset.filter(fund__category=self.value()) if self.value() else queryset


class FundCompanyFilter(InputFilter):
    """ETFs of one fund company (part of its name, e.g. 华夏)."""

    title = "fund company"
    inputs = (("fund_company", "Company (part of the name)", "text"),)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> QuerySet[Instrument]:
        value = self.value("fund_company")
        return queryset.filter(fund__fund_company__icontains=value) if value else queryset


class TrackingIndexFilter(InputFilter):
    """ETFs tracking one index: its code (000300) or part of its name (沪深300)."""

    title = "tracking index"
    inputs = (("tracking_index", "Index code or name", "text"),)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Instrument]) -> QuerySet[Instrument]:
        value = self.value("tracking_index")
        if not value:
            return queryset
        return queryset.filter(
            Q(fund__tracking_index_code__iexact=value) | Q(fund__tracking_index_name__icontains=value)
        )


def fund_report_html(run: SyncRun) -> str:
    """The fund-data phase of a run for curators: the universe differences first, then counts."""
    report = run.fund_report or {}
    if not report:
        return "—"
    universe = report.get("universe", {})
    parts = []
    if universe:
        counts = ", ".join(f"{name}: {count}" for name, count in universe.get("counts", {}).items())
        parts.append(format_html("<p>ETFs listed — {}</p>", counts))
        for key, label in (
            ("only_exchange", "Only on the exchanges' lists (added from there)"),
            ("only_eastmoney", "Only on East Money's boards"),
            ("unread_lists", "Exchange lists that could not be read"),
        ):
            values = universe.get(key) or []
            parts.append(format_html("<p><b>{}</b> ({}): {}</p>", label, len(values), ", ".join(values) or "none"))
    for key in ("nav", "quotes", "facts"):
        if key in report:
            values = ", ".join(f"{name} {value}" for name, value in report[key].items())
            parts.append(format_html("<p><b>{}</b>: {}</p>", key, values))
    for host, values in (report.get("shares") or {}).items():
        text = ", ".join(f"{name} {value}" for name, value in values.items())
        parts.append(format_html("<p><b>shares ({})</b>: {}</p>", host.upper(), text))
    if report.get("errors"):
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((e["symbol"] or "run", e["error"]) for e in report["errors"])
        )
        parts.append(format_html("<table><tr><th>fund data</th><th>error</th></tr>{}</table>", rows))
    parts.append(format_html("<p>{} fund-host requests</p>", report.get("requests", 0)))
    return format_html_join("", "{}", ((p,) for p in parts))
