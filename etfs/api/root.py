"""The API's front door: a browsable root listing every endpoint, and the schema/docs views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from etfs.rest.strict import StrictQueryParamsMixin

# name -> (URL name, example path arguments, what it gives)
ENDPOINTS = {
    "instruments": ("instrument-list", None, "instruments with filters, search and ordering"),
    "instrument": ("instrument-detail", {"symbol": "510300.SH"}, "one instrument, any symbol form"),
    "instrument_bars": ("instrument-bars", {"symbol": "510300.SH"}, "one instrument's bars (JSON, CSV, Parquet)"),
    "instrument_actions": ("instrument-actions", {"symbol": "510300.SH"}, "one instrument's corporate actions"),
    "etfs": ("etf-list", None, "the instrument list, ETFs only"),
    "bars": ("bars", None, "bars of many instruments: symbols= with start/end, or date= (a cross-section)"),
    "bars_latest": ("bars-latest", None, "the latest bar of every instrument filtered (a market screen)"),
    "calendar": ("calendar", None, "SH/SZ trading days: start=, end="),
    "sync_runs": ("syncrun-list", None, "sync history; staff POST queues a sync"),
    "health": ("health", None, "database and sync freshness"),
    "schema": ("schema", None, "the OpenAPI 3 contract"),
    "docs": ("docs", None, "Swagger UI"),
}


class ApiRootView(StrictQueryParamsMixin, APIView):
    """Every endpoint of the API with an example URL (those under ``{symbol}`` shown for 510300.SH)."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                name: reverse(url_name, kwargs=example, request=request)
                for name, (url_name, example, _what) in ENDPOINTS.items()
            }
        )


class SchemaView(StrictQueryParamsMixin, SpectacularAPIView):
    """The OpenAPI document; a bad parameter answers JSON like everywhere else, not YAML."""

    extra_query_params = ("lang", "version")

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SwaggerView(StrictQueryParamsMixin, SpectacularSwaggerView):
    pass
