"""Query-string filters for instruments and sync runs, shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend, OrderingFilter, SearchFilter
from rest_framework.request import Request

from etfs.models import Instrument, SyncRun
from etfs.names import normalise_search_term

if TYPE_CHECKING:
    from rest_framework.generics import BaseFilterProtocol  # in the stubs only


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (any case) or absent; anything else is an error, not a silently ignored filter."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # the stubs forget None
        text = str(value or "").strip().lower()
        if not text:
            return None
        if text in ("true", "false"):
            return text == "true"
        raise forms.ValidationError("Enter true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        return None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class InstrumentFilter(django_filters.FilterSet):
    """``is_etf``, ``exchange``, ``is_active``, ``asset_type``: the same filters on every instrument list."""

    is_etf = StrictBooleanFilter()
    is_active = StrictBooleanFilter()

    class Meta:
        model = Instrument
        fields = ["is_etf", "exchange", "is_active", "asset_type"]


class SyncRunFilter(django_filters.FilterSet):
    class Meta:
        model = SyncRun
        fields = ["kind", "status", "trigger"]


class StrictSearchFilter(SearchFilter):
    """DRF's search over normalised terms (NFKC: ``黄金ＥＴＦ`` and ``黄金ETF`` are one term), refusing
    NUL characters (PostgreSQL cannot hold them: a 500 otherwise)."""

    def get_search_terms(self, request: Request) -> list[Any]:
        if "\x00" in request.query_params.get(self.search_param, ""):
            raise ValidationError({self.search_param: ["Null characters are not allowed."]})
        terms = [normalise_search_term(term) for term in super().get_search_terms(request)]
        return [term for term in terms if term]


class InstrumentFilteringMixin:
    """Filters, search and ordering shared by every view that lists instruments.

    The instrument list, the ETF list and the latest-bar screen take the same query
    parameters, so a notebook can move a filter from one endpoint to another unchanged.
    """

    filter_backends: Sequence[type[BaseFilterBackend | BaseFilterProtocol]] = [
        DjangoFilterBackend,
        StrictSearchFilter,
        OrderingFilter,
    ]
    filterset_class = InstrumentFilter
    # name: the provider's text; search_name: NFKC without spaces (万科A finds 万  科Ａ); name_initials: pinyin (HJETF)
    search_fields = ["code", "symbol", "name", "search_name", "name_initials"]
    ordering_fields = ["symbol", "code", "name", "exchange", "list_date"]
    ordering = ["symbol"]
