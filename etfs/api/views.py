"""Views for instruments, sync runs and health: thin, the queries live in querysets and services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from etfs.api.funds import EtfDetailSerializer, EtfFilter, etf_detail_queryset
from etfs.api.health import health_report
from etfs.api.parsers import SafeJSONParser
from etfs.api.serializers import (
    HealthSerializer,
    InstrumentDetailSerializer,
    InstrumentSerializer,
    SyncRequestSerializer,
    SyncRunSerializer,
)
from etfs.models import Instrument, SyncRun
from etfs.rest.filters import InstrumentFilteringMixin, SyncRunFilter
from etfs.rest.lookup import SYMBOL_PARAMETER, get_instrument_or_404
from etfs.rest.strict import StrictQueryParamsMixin
from etfs.tasks import enqueue_sync
from prices.queries import with_bar_extent


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """JSON 404 for any unmatched path under ``/api/`` (Django's default page is HTML)."""
    return JsonResponse({"detail": f"No API endpoint at {request.path}."}, status=404)


class InstrumentViewSet(StrictQueryParamsMixin, InstrumentFilteringMixin, viewsets.ReadOnlyModelViewSet):
    """Instruments with filters, search over code/symbol/name and ordering; detail by any symbol form."""

    queryset = Instrument.objects.all()
    serializer_class = InstrumentSerializer
    lookup_field = "symbol"
    lookup_value_regex = "[^/]+"

    def get_serializer_class(self) -> type[InstrumentSerializer]:
        return InstrumentDetailSerializer if self.action == "retrieve" else InstrumentSerializer

    def get_object(self) -> Instrument:
        queryset = with_bar_extent(self.get_queryset())
        instrument = get_instrument_or_404(queryset, self.kwargs["symbol"])
        self.check_object_permissions(self.request, instrument)
        return instrument

    @extend_schema(parameters=[SYMBOL_PARAMETER])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)


class EtfViewSet(StrictQueryParamsMixin, InstrumentFilteringMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The instrument list restricted to ETFs (same filters, search and ordering, plus the fund
    filters ``category``, ``fund_company`` and ``tracking_index``); the detail adds the fund facts."""

    queryset = Instrument.objects.etfs()
    serializer_class = InstrumentSerializer
    lookup_field = "symbol"
    lookup_value_regex = "[^/]+"

    filterset_class = EtfFilter

    def get_serializer_class(self) -> type[InstrumentSerializer]:
        return EtfDetailSerializer if self.action == "retrieve" else InstrumentSerializer

    def get_object(self) -> Instrument:
        instrument = get_instrument_or_404(etf_detail_queryset(), self.kwargs["symbol"])
        self.check_object_permissions(self.request, instrument)
        return instrument

    @extend_schema(parameters=[SYMBOL_PARAMETER])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        return Response(self.get_serializer(instance).data)


class SyncRunViewSet(StrictQueryParamsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sync runs, newest first; staff with ``etfs.change_instrument`` may enqueue one (202: django-q2 runs it)."""

    queryset = SyncRun.objects.all()
    serializer_class = SyncRunSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = SyncRunFilter
    parser_classes = [SafeJSONParser]  # a request is three fields: no forms, no multipart
    # Queuing a sync is what the admin's "Sync prices now" does: the same model permission.
    write_permission = "etfs.change_instrument"

    @extend_schema(request=SyncRequestSerializer, responses={202: SyncRunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = SyncRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        run = enqueue_sync(params.options(), trigger=SyncRun.Trigger.API, triggered_by=request.user.get_username())
        return Response(SyncRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class HealthView(StrictQueryParamsMixin, APIView):
    """Database reachable and the age of the last successful sync per kind; 503 when the database is not.

    Always public (load balancers and monitors call it without credentials) and never throttled.
    """

    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(responses={200: HealthSerializer, 503: OpenApiResponse(HealthSerializer, "database unreachable")})
    def get(self, request: Request) -> Response:
        healthy, report = health_report()
        return Response(
            HealthSerializer(report).data, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE
        )
