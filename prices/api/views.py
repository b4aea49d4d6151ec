"""Bars over HTTP: one instrument's history (JSON pages or streamed CSV) and the latest-bar screen."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import caches
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from etfs.api.filters import InstrumentFilteringMixin
from etfs.api.permissions import ReadPublicWriteStaff
from etfs.api.views import SYMBOL_PARAMETER, get_instrument_or_404
from etfs.models import Instrument
from prices.api.pagination import BarCursorPagination
from prices.api.renderers import CSVRenderer
from prices.api.serializers import FORMATS, BarPageSerializer, BarQuerySerializer, LatestBarSerializer
from prices.queries import adjuster_for, fetch_bars, iter_bars, latest_bars, screen_data_version

BAR_FIELDS = ["date", "open", "high", "low", "close", "volume", "amount"]
LATEST_FIELDS = ["symbol", "name", *BAR_FIELDS]
ERRORS = {
    (400, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, "Invalid parameters, with a message per field"),
    (404, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, "Unknown instrument (the message names it)"),
}


class JSONOrCSVMixin:
    """JSON or CSV chosen by ``?format=`` (or ``Accept``); an unknown format is a 400, errors are always JSON."""

    renderer_classes = [JSONRenderer, CSVRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        try:
            return super().perform_content_negotiation(request, force)  # type: ignore[misc]
        except Http404:
            # DRF answers an unknown ?format= with 404; for us it is a bad parameter.
            raise ValidationError({"format": [f"Unknown format; expected one of {', '.join(FORMATS)}."]}) from None

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return response

    def wants_csv(self, request: Request) -> bool:
        return getattr(request.accepted_renderer, "format", None) == "csv"


class InstrumentBarsView(JSONOrCSVMixin, APIView):
    """Daily, weekly or monthly bars of one instrument, raw or qfq/hfq adjusted.

    JSON comes in cursor pages; CSV streams the whole range in batches, never holding it
    in memory.
    """

    permission_classes = [ReadPublicWriteStaff]
    pagination_class = BarCursorPagination
    csv_batch_size = 5000

    @extend_schema(
        parameters=[SYMBOL_PARAMETER, BarQuerySerializer],
        responses={(200, "application/json"): BarPageSerializer, (200, "text/csv"): OpenApiTypes.STR, **ERRORS},
    )
    def get(self, request: Request, symbol: str) -> Response | StreamingHttpResponse:
        query = BarQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        instrument = get_instrument_or_404(Instrument.objects.all(), symbol)
        adjuster = adjuster_for(instrument, params["adjust"])
        interval, end = params["interval"], params.get("end")
        if self.wants_csv(request):
            bars = iter_bars(
                instrument,
                adjuster,
                start=params.get("start"),
                end=end,
                interval=interval,
                batch_size=self.csv_batch_size,
            )
            response = StreamingHttpResponse(
                CSVRenderer().stream((bar.as_dict() for bar in bars), BAR_FIELDS),
                content_type="text/csv; charset=utf-8",
            )
            filename = f"{instrument.symbol}-{interval}-{params['adjust']}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        paginator = self.pagination_class()
        page = paginator.paginate_bars(
            lambda start, limit: fetch_bars(instrument, adjuster, start=start, end=end, interval=interval, limit=limit),
            params,
            request,
        )
        return paginator.get_paginated_response([bar.as_dict() for bar in page])


class LatestBarsView(InstrumentFilteringMixin, JSONOrCSVMixin, ListAPIView):
    """The latest bar of every instrument matching the instrument filters: a market screen in one call.

    Raw (unadjusted) prices: qfq leaves the latest bar unchanged anyway. Instruments without
    bars are left out. Three queries whatever the number of instruments (one when cached).
    """

    queryset = Instrument.objects.all()
    serializer_class = LatestBarSerializer
    permission_classes = [ReadPublicWriteStaff]
    pagination_class = None

    def get_renderer_context(self) -> dict[str, Any]:
        return {**super().get_renderer_context(), "csv_header": LATEST_FIELDS}

    @extend_schema(
        responses={(200, "application/json"): LatestBarSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # A screen of 1,000+ instruments costs tens of ms to build and changes only when a sync
        # writes (heartbeats every few seconds) or a curator edits an instrument: cache it per
        # query under that data version, for at most SCREEN_CACHE_SECONDS.
        cache = caches["screens"]
        version = f"{screen_data_version()}|{request.get_full_path()}"
        key = "latest-bars:" + hashlib.sha256(version.encode()).hexdigest()
        rows = cache.get(key)
        if rows is None:
            rows = [
                {"symbol": instrument.symbol, "name": instrument.name, **bar.as_dict()}
                for instrument, bar in latest_bars(self.filter_queryset(self.get_queryset()))
            ]
            cache.set(key, rows)
        return Response(rows)
