"""ETFs as funds over HTTP: facts on the ETF detail, NAV with premium, shares with flow, filters.

``GET /api/etfs/{symbol}/`` is the instrument detail plus the fund facts; ``…/nav/`` and
``…/shares/`` list a fund's daily rows in ``start..end`` (JSON or CSV, whole range: a fund
has a few thousand days at most). Premium and flow are computed on read
(``prices.fund_queries``), so they always agree with the stored closes, NAVs and shares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import django_filters
from django.db.models import Count, Max, Min, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from etfs.api.serializers import InstrumentDetailSerializer
from etfs.funds import FundCategory
from etfs.models import Instrument
from etfs.rest.filters import InstrumentFilter
from etfs.rest.lookup import SYMBOL_PARAMETER, get_instrument_or_404
from prices.api.renderers import PARQUET_MEDIA_TYPE
from prices.api.serializers import FORMATS, FlexibleDateField
from prices.api.views import ERRORS, FormatsMixin
from prices.fund_queries import nav_rows, shares_rows

FACT_FIELDS = [
    "tracking_index_code",
    "tracking_index_name",
    "fund_company",
    "custodian",
    "category",
    "inception_date",
    "management_fee",
    "custody_fee",
    "t0",
]
NAV_FIELDS = ["date", "unit_nav", "accumulated_nav", "close", "premium"]
SHARES_FIELDS = ["date", "shares", "flow"]
DATE_FORMAT = ["%Y-%m-%d"]
F = TypeVar("F", bound=Callable[..., Any])
STRING_OR_NULL = {"type": "string", "nullable": True}


def _number(decimal_places: int, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=decimal_places, coerce_to_string=False, allow_null=True, **kwargs
    )


class EtfFilter(InstrumentFilter):
    """The instrument filters plus the fund's: ``category``, ``fund_company``, ``tracking_index``."""

    category = django_filters.ChoiceFilter(field_name="fund__category", choices=FundCategory.choices)
    fund_company = django_filters.CharFilter(
        field_name="fund__fund_company", lookup_expr="icontains", help_text="Part of the fund company's name"
    )
    tracking_index = django_filters.CharFilter(
        method="filter_tracking_index", help_text="The tracked index's code (exact) or part of its name"
    )

    class Meta(InstrumentFilter.Meta):
        fields = [*InstrumentFilter.Meta.fields, "category", "fund_company", "tracking_index"]

    def filter_tracking_index(self, queryset: QuerySet[Instrument], name: str, value: str) -> QuerySet[Instrument]:
        value = value.strip()
        if not value:
            return queryset
        by_code = Q(fund__tracking_index_code__iexact=value)
        return queryset.filter(by_code | Q(fund__tracking_index_name__icontains=value))


class EtfDetailSerializer(InstrumentDetailSerializer):
    """An ETF: the instrument, its stored history's extent, and its fund facts (null when unknown)."""

    tracking_index_code = serializers.SerializerMethodField()
    tracking_index_name = serializers.SerializerMethodField()
    fund_company = serializers.SerializerMethodField()
    custodian = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    inception_date = serializers.SerializerMethodField()
    management_fee = serializers.SerializerMethodField()
    custody_fee = serializers.SerializerMethodField()
    t0 = serializers.SerializerMethodField()

    class Meta(InstrumentDetailSerializer.Meta):
        fields = [*InstrumentDetailSerializer.Meta.fields, *FACT_FIELDS]
        read_only_fields = fields

    @staticmethod
    def _fact(instrument: Instrument, name: str) -> Any:
        profile = getattr(instrument, "fund", None)
        value = getattr(profile, name, None) if profile is not None else None
        return None if value == "" else value

    @extend_schema_field(STRING_OR_NULL)
    def get_tracking_index_code(self, instrument: Instrument) -> str | None:
        return self._fact(instrument, "tracking_index_code")

    @extend_schema_field(STRING_OR_NULL)
    def get_tracking_index_name(self, instrument: Instrument) -> str | None:
        return self._fact(instrument, "tracking_index_name")

    @extend_schema_field(STRING_OR_NULL)
    def get_fund_company(self, instrument: Instrument) -> str | None:
        return self._fact(instrument, "fund_company")

    @extend_schema_field(STRING_OR_NULL)
    def get_custodian(self, instrument: Instrument) -> str | None:
        return self._fact(instrument, "custodian")

    @extend_schema_field({"type": "string", "nullable": True, "enum": [c.value for c in FundCategory]})
    def get_category(self, instrument: Instrument) -> str | None:
        return self._fact(instrument, "category")

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_inception_date(self, instrument: Instrument) -> Any:
        return self._fact(instrument, "inception_date")

    @extend_schema_field(_number(4, help_text="% per year"))
    def get_management_fee(self, instrument: Instrument) -> float | None:
        value = self._fact(instrument, "management_fee")
        return None if value is None else float(value)

    @extend_schema_field(_number(4, help_text="% per year"))
    def get_custody_fee(self, instrument: Instrument) -> float | None:
        value = self._fact(instrument, "custody_fee")
        return None if value is None else float(value)

    @extend_schema_field(serializers.BooleanField(allow_null=True, help_text="Trades T+0 (from the category)"))
    def get_t0(self, instrument: Instrument) -> bool | None:
        profile = getattr(instrument, "fund", None)
        return profile.t0 if profile is not None and profile.category else None


def etf_detail_queryset() -> QuerySet[Instrument]:
    return (
        Instrument.objects.etfs()
        .select_related("fund")
        .annotate(
            first_bar_time=Min("daily_bars__time"),
            last_bar_time=Max("daily_bars__time"),
            bar_count=Count("daily_bars__time"),
        )
    )


class FundRangeSerializer(serializers.Serializer):
    """``start``/``end`` (inclusive; YYYY-MM-DD or YYYYMMDD, as the bars take) and ``format``."""

    start = FlexibleDateField(required=False, help_text="First date (inclusive)")
    end = FlexibleDateField(required=False, help_text="Last date (inclusive)")
    format = serializers.ChoiceField(choices=FORMATS, default="json", help_text="json, csv or parquet")

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"start": [f"start {start} is after end {end}."]})
        return attrs


class NavRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    unit_nav = _number(4, help_text="单位净值, CNY (jumps at share conversions)")
    accumulated_nav = _number(4, help_text="累计净值, CNY (continuous across conversions)")
    close = _number(3, help_text="The day's raw close; null on a day without a trade")
    premium = _number(6, help_text="close / unit_nav - 1 (0.0012 = 0.12 % above NAV); null without a close")


class SharesRowSerializer(serializers.Serializer):
    date = serializers.DateField()
    shares = serializers.IntegerField(help_text="On-exchange shares outstanding at the day's end")
    flow = _number(
        2, help_text="(shares - previous day's shares) x unit NAV, CNY; null on the first day or with no NAV"
    )


def _rows_schema(row_serializer: type[serializers.Serializer]) -> Callable[[F], F]:
    """The OpenAPI description of a fund rows view's GET: its rows as JSON, CSV or Parquet."""
    return extend_schema(
        parameters=[SYMBOL_PARAMETER, FundRangeSerializer],
        responses={
            (200, "application/json"): row_serializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, PARQUET_MEDIA_TYPE): OpenApiTypes.BINARY,
            **ERRORS,
        },
    )


class _FundRowsView(FormatsMixin, APIView):
    """One ETF's daily fund rows in ``start..end``, as JSON, CSV or Parquet."""

    query_serializers = (FundRangeSerializer,)
    fields: list[str] = []
    row_serializer: type[serializers.Serializer] = serializers.Serializer
    kind: str  # the rows' name in a download's file name
    read: Callable[[int, dt.date | None, dt.date | None], list[Any]]  # the rows of one ETF from start to end

    def get_renderer_context(self) -> dict[str, Any]:
        return {**super().get_renderer_context(), "csv_header": self.fields}

    def get(self, request: Request, symbol: str) -> Response:
        query = FundRangeSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instrument = get_instrument_or_404(Instrument.objects.etfs(), symbol)
        params = query.validated_data
        rows = self.read(instrument.pk, params.get("start"), params.get("end"))
        output = self.output_format(request)
        if output == "json":
            return Response(self.row_serializer(rows, many=True).data)
        # CSV carries the exact decimal text; Parquet gets the values (floats, dates typed).
        response = Response([{name: getattr(row, name) for name in self.fields} for row in rows])
        response["Content-Disposition"] = f'attachment; filename="{instrument.symbol}-{self.kind}.{output}"'
        return response


@extend_schema_view(get=_rows_schema(NavRowSerializer))
class FundNavView(_FundRowsView):
    """Daily NAV of one ETF with that day's close and the premium/discount to NAV."""

    fields = NAV_FIELDS
    row_serializer = NavRowSerializer
    kind = "nav"
    read = staticmethod(nav_rows)


@extend_schema_view(get=_rows_schema(SharesRowSerializer))
class FundSharesView(_FundRowsView):
    """Daily on-exchange shares of one ETF with the net creation/redemption flow."""

    fields = SHARES_FIELDS
    row_serializer = SharesRowSerializer
    kind = "shares"
    read = staticmethod(shares_rows)
