"""Bars over HTTP: one instrument's history, many instruments (symbols or one date), the latest-bar screen,
corporate actions and the trading calendar.

Bar answers are written straight from database rows to bytes (``prices.api.writers``): no
serializer, no dict per bar. JSON comes in cursor pages; CSV and Parquet stream the whole
range in batches, never holding it in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.core.cache import caches
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from etfs import calendar
from etfs.models import Instrument
from etfs.rest.filters import InstrumentFilteringMixin, StrictSearchFilter
from etfs.rest.lookup import SYMBOL_PARAMETER, get_instrument_or_404
from etfs.rest.strict import StrictQueryParamsMixin
from etfs.symbols import parse_symbol
from prices.adjustments import Action, PriceAdjuster
from prices.api.pagination import PERIOD_START, BarCursorPagination
from prices.api.renderers import PARQUET_MEDIA_TYPE, CSVRenderer, ParquetRenderer
from prices.api.serializers import (
    FORMATS,
    ActionSerializer,
    BarPageSerializer,
    BarQuerySerializer,
    CalendarQuerySerializer,
    CalendarSerializer,
    CrossBarQuerySerializer,
    LatestBarSerializer,
    StrictBooleanParam,
    chosen_columns,
    validate_query,
)
from prices.api.writers import csv_chunks, csv_line_chunks, json_page, json_page_text, parquet_chunks
from prices.fund_queries import SCREEN_FUND_FIELDS, add_fund_columns
from prices.models import CorporateAction
from prices.queries import (
    SectionInstrument,
    actions_by_instrument,
    cross_section,
    instrument_with_actions,
    latest_bars,
    screen_data_version,
    section_bar,
)
from prices.rows import (
    RowMaker,
    default_columns,
    history_lines,
    history_rows,
    iter_history_lines,
    iter_history_rows,
)
from prices.rows import (
    lines_apply as _lines_apply,
)

BAR_FIELDS = ["date", "open", "high", "low", "close", "volume", "amount"]
LATEST_FIELDS = ["symbol", "name", *BAR_FIELDS]
BATCH_SIZE = 5000
ERRORS = {
    (400, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, "Invalid parameters, with a message per field"),
    (404, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, "Unknown instrument (the message names it)"),
}
# The instrument filters /api/bars/ takes (a plain view: drf-spectacular adds them only to list views).
INSTRUMENT_FILTER_PARAMETERS = [
    OpenApiParameter("is_etf", {"type": "string", "enum": ["true", "false"]}, description="ETFs only / no ETFs"),
    OpenApiParameter("is_active", {"type": "string", "enum": ["true", "false"]}, description="Listed / delisted"),
    OpenApiParameter("exchange", {"type": "string", "enum": ["SH", "SZ", "BJ"]}),
    OpenApiParameter("asset_type", {"type": "string", "enum": ["stock", "etf", "lof", "reit", "index"]}),
    OpenApiParameter("search", str, description="Code, symbol, name (normalised) or pinyin initials"),
]
BAR_RESPONSES = {
    (200, "application/json"): BarPageSerializer,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, PARQUET_MEDIA_TYPE): OpenApiTypes.BINARY,
    **ERRORS,
}


class FormatsMixin(StrictQueryParamsMixin):
    """JSON, CSV or Parquet chosen by ``?format=`` (or ``Accept``); an unknown format is a 400,
    errors are always JSON."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, CSVRenderer, ParquetRenderer]

    def perform_content_negotiation(
        self,
        request: Request,
        force: bool = False,  # noqa: FBT001, FBT002 (DRF's signature)
    ) -> tuple[BaseRenderer, str]:
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

    def output_format(self, request: Request) -> str:
        return getattr(request.accepted_renderer, "format", None) or "json"


def instrument_and_actions_or_404(value: str) -> tuple[SectionInstrument, list[Action]]:
    """The instrument ``value`` names in any symbol form, with its corporate actions; 404 naming it."""
    try:
        symbol = parse_symbol(value)
    except ValueError as exc:
        raise NotFound(str(exc)) from None
    found = instrument_with_actions(symbol.canonical)
    if found is None:
        raise NotFound(f"unknown instrument {symbol.canonical} (asked as {value!r})")
    return found


def _batches(rows: Iterable[tuple], size: int = BATCH_SIZE) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def csv_download(chunks: Iterator[bytes], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def stream_rows(
    rows: Iterable[tuple], columns: tuple[str, ...], fmt: str, filename: str, *, bom: bool
) -> StreamingHttpResponse:
    """A CSV or Parquet download of ``rows`` (``prices.rows.COLUMNS`` tuples), batch by batch."""
    if fmt == "parquet":
        response = StreamingHttpResponse(parquet_chunks(_batches(rows), columns), content_type=PARQUET_MEDIA_TYPE)
        filename += ".parquet"
    else:
        response = StreamingHttpResponse(
            csv_chunks(_batches(rows), columns, bom=bom), content_type="text/csv; charset=utf-8"
        )
        filename += ".csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def json_response(rows: Iterable[tuple], columns: tuple[str, ...], next_link: str | None) -> HttpResponseBase:
    return HttpResponse(json_page(rows, columns, next_link), content_type="application/json")


def _history_rows(instrument: Any, adjuster: PriceAdjuster, start: Any, end: Any, interval: str) -> Iterator[tuple]:
    # Read at the module's batch size at call time (tests shrink it).
    return iter_history_rows(instrument, adjuster, start=start, end=end, interval=interval, batch_size=BATCH_SIZE)


class InstrumentBarsView(FormatsMixin, APIView):
    """Daily, weekly or monthly bars of one instrument, raw or qfq/hfq adjusted, with pre_close,
    change, pct_chg and the adjustment's factor and offset per bar.

    Weekly and monthly bars are dated by the period's last trading day, with ``period_start``
    beside it. JSON comes in cursor pages; CSV and Parquet stream the whole range.
    """

    pagination_class = BarCursorPagination
    query_serializers = (BarQuerySerializer,)

    @extend_schema(parameters=[SYMBOL_PARAMETER, BarQuerySerializer], responses=BAR_RESPONSES)
    def get(self, request: Request, symbol: str) -> HttpResponseBase:
        params = validate_query(BarQuerySerializer, request.query_params)
        interval, start, end = params["interval"], params.get("start"), params.get("end")
        columns = chosen_columns(params, default_columns(with_symbol=False, interval=interval))
        instrument, actions = instrument_and_actions_or_404(symbol)
        adjuster = PriceAdjuster(actions, params["adjust"], instrument.price_decimals)
        fmt = self.output_format(request)
        filename = f"{instrument.symbol}-{interval}-{params['adjust']}"
        if fmt == "csv":
            lines = iter_history_lines(
                instrument,
                adjuster,
                start=start,
                end=end,
                interval=interval,
                batch_size=BATCH_SIZE,
                columns=columns,
                fmt=fmt,
            )
            if lines is not None:
                return csv_download(csv_line_chunks(lines, columns, bom=params["bom"]), filename)
        if fmt != "json":
            rows = _history_rows(instrument, adjuster, start, end, interval)
            return stream_rows(rows, columns, fmt, filename, bom=params["bom"])
        paginator = self.pagination_class()
        if _lines_apply(adjuster, interval):

            def fetch_lines(first: Any, limit: int) -> list[tuple]:
                # (_, _, period_start, line): the paginator reads the date where rows keep it.
                lines = history_lines(
                    instrument,
                    adjuster,
                    start=first,
                    end=end,
                    interval=interval,
                    limit=limit,
                    columns=columns,
                    fmt="json",
                )
                return [(None, None, day, line) for line, day in lines or []]

            page = paginator.paginate_rows(fetch_lines, params, request)
            results = "[" + ",".join(row[3] for row in page) + "]"
            return HttpResponse(json_page_text(results, paginator.get_next_link()), content_type="application/json")

        def fetch(first: Any, limit: int) -> list[tuple]:
            return history_rows(instrument, adjuster, start=first, end=end, interval=interval, limit=limit)

        page = paginator.paginate_rows(fetch, params, request)
        return json_response(page, columns, paginator.get_next_link())


class BarsView(InstrumentFilteringMixin, FormatsMixin, GenericAPIView):
    """Bars of many instruments in long format (a ``symbol`` column), ordered by symbol then date.

    ``symbols=`` (up to 1,000, any form) with ``start``/``end``: each instrument's bars exactly
    as ``/api/instruments/{symbol}/bars/`` gives them. ``date=``: that trading day's bar of
    every instrument matching the instrument filters (a cross-section); instruments without
    a bar that day (suspended, not yet listed) are absent. The instrument filters narrow
    ``symbols=`` too.
    """

    queryset = Instrument.objects.all()
    pagination_class = BarCursorPagination
    filter_backends = [DjangoFilterBackend, StrictSearchFilter]
    query_serializers = (CrossBarQuerySerializer,)

    @extend_schema(parameters=[CrossBarQuerySerializer, *INSTRUMENT_FILTER_PARAMETERS], responses=BAR_RESPONSES)
    def get(self, request: Request) -> HttpResponseBase:
        params = validate_query(CrossBarQuerySerializer, request.query_params)
        interval = params["interval"]
        columns = chosen_columns(params, default_columns(with_symbol=True, interval=interval))
        instruments = self.filter_queryset(self.get_queryset())
        fmt = self.output_format(request)
        if "date" in params:
            return self._cross_section(request, instruments, params, columns, fmt)
        return self._many(request, instruments, params, columns, fmt)

    def _adjusters(self, instruments: list[SectionInstrument], adjust: str) -> dict[int, PriceAdjuster]:
        actions = actions_by_instrument([i.pk for i in instruments])
        plain: dict[int, PriceAdjuster] = {}
        adjusters = {}
        for instrument in instruments:
            if instrument.pk in actions:
                adjusters[instrument.pk] = PriceAdjuster(actions[instrument.pk], adjust, instrument.price_decimals)
            else:
                decimals = instrument.price_decimals
                plain.setdefault(decimals, PriceAdjuster([], adjust, decimals))
                adjusters[instrument.pk] = plain[decimals]
        return adjusters

    def _many(
        self, request: Request, instruments: Any, params: dict[str, Any], columns: tuple[str, ...], fmt: str
    ) -> HttpResponseBase:
        wanted = [s.canonical for s in params["symbols"]]
        stored = {
            row[1]: SectionInstrument(*row)
            for row in Instrument.objects.filter(symbol__in=wanted).values_list("pk", "symbol", "price_decimals")
        }
        missing = [symbol for symbol in wanted if symbol not in stored]
        if missing:
            raise NotFound(f"unknown instrument(s): {', '.join(missing)}")
        allowed = set(instruments.filter(symbol__in=wanted).values_list("symbol", flat=True))
        chosen = sorted((stored[s] for s in allowed), key=lambda i: i.symbol)
        adjusters = self._adjusters(chosen, params["adjust"])
        interval, start, end = params["interval"], params.get("start"), params.get("end")
        if fmt != "json":

            def rows() -> Iterator[tuple]:
                for instrument in chosen:
                    yield from _history_rows(instrument, adjusters[instrument.pk], start, end, interval)

            return stream_rows(rows(), columns, fmt, f"bars-{interval}-{params['adjust']}", bom=params["bom"])
        paginator = self.pagination_class()
        paginator.request = request
        size = paginator.get_page_size(params)
        cursor_day, cursor_symbol = None, None
        if params.get("cursor"):
            cursor_day, cursor_symbol = paginator.decode_cursor_with_symbol(params["cursor"])
            chosen = [i for i in chosen if i.symbol >= (cursor_symbol or "")]
        page: list[tuple] = []
        for instrument in chosen:
            first = start
            if instrument.symbol == cursor_symbol and cursor_day is not None:
                first = max(start, cursor_day) if start else cursor_day
            need = size - len(page)
            found = history_rows(
                instrument, adjusters[instrument.pk], start=first, end=end, interval=interval, limit=need + 1
            )
            if len(found) > need:
                paginator.next_date, paginator.next_symbol = found[need][PERIOD_START], instrument.symbol
                found = found[:need]
            page.extend(found)
            if paginator.next_date is not None:
                break
        return json_response(page, columns, paginator.get_next_link())

    def _cross_section(
        self, request: Request, instruments: Any, params: dict[str, Any], columns: tuple[str, ...], fmt: str
    ) -> HttpResponseBase:
        day = params["date"]
        section = cross_section(instruments, day)
        adjusters = self._adjusters([instrument for instrument, _, _ in section], params["adjust"])

        def rows(items: Iterable[tuple]) -> Iterator[tuple]:
            for instrument, raw, previous in items:
                adjuster = adjusters[instrument.pk]
                yield from RowMaker(instrument.symbol, adjuster).rows([section_bar(raw, day, adjuster)], previous)

        if fmt != "json":
            return stream_rows(
                rows(section), columns, fmt, f"bars-{day.isoformat()}-{params['adjust']}", bom=params["bom"]
            )
        paginator = self.pagination_class()
        paginator.request = request
        size = paginator.get_page_size(params)
        if params.get("cursor"):
            _, cursor_symbol = paginator.decode_cursor_with_symbol(params["cursor"])
            section = [item for item in section if item[0].symbol >= (cursor_symbol or "")]
        if len(section) > size:
            paginator.next_date, paginator.next_symbol = day, section[size][0].symbol
        return json_response(rows(section[:size]), columns, paginator.get_next_link())


class LatestBarsView(InstrumentFilteringMixin, FormatsMixin, ListAPIView):
    """The latest bar of every instrument matching the instrument filters: a market screen in one call.

    Raw (unadjusted) prices: qfq leaves the latest bar unchanged anyway. Instruments without
    bars are left out. Three queries whatever the number of instruments (one when cached).
    """

    queryset = Instrument.objects.all()
    serializer_class = LatestBarSerializer
    pagination_class = None
    extra_query_params = ("bom",)

    def get_renderer_context(self) -> dict[str, Any]:
        extra = SCREEN_FUND_FIELDS if _etf_screen(self.request) else []
        return {**super().get_renderer_context(), "csv_header": [*LATEST_FIELDS, *extra]}

    @extend_schema(
        responses={
            (200, "application/json"): LatestBarSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, PARQUET_MEDIA_TYPE): OpenApiTypes.BINARY,
        }
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if "bom" in request.query_params:
            try:
                StrictBooleanParam().to_internal_value(request.query_params["bom"])
            except ValidationError as exc:
                raise ValidationError({"bom": exc.detail}) from None
        # A screen of 1,000+ instruments costs tens of ms to build and changes only when a sync
        # writes (heartbeats every few seconds) or a curator edits an instrument: cache it per
        # query under that data version, for at most SCREEN_CACHE_SECONDS.
        cache = caches["screens"]
        version = f"{screen_data_version()}|{request.get_full_path()}"
        key = "latest-bars:" + hashlib.sha256(version.encode()).hexdigest()
        rows = cache.get(key)
        if rows is None:
            pairs = latest_bars(self.filter_queryset(self.get_queryset()))
            rows = [
                {"symbol": instrument.symbol, "name": instrument.name, **bar.as_dict()} for instrument, bar in pairs
            ]
            if _etf_screen(request):  # the ETF screen adds latest unit NAV, premium, shares and AUM
                add_fund_columns(rows, [inst.pk for inst, _ in pairs])
            cache.set(key, rows)
        return Response(rows)


class InstrumentActionsView(StrictQueryParamsMixin, APIView):
    """The corporate actions (ex-days) of one instrument, oldest first: what qfq/hfq are computed from."""

    @extend_schema(parameters=[SYMBOL_PARAMETER], responses={200: ActionSerializer(many=True), **ERRORS})
    def get(self, request: Request, symbol: str) -> Response:
        instrument = get_instrument_or_404(Instrument.objects.all(), symbol)
        actions = CorporateAction.objects.filter(instrument=instrument).order_by("ex_date")
        return Response(ActionSerializer(actions, many=True).data)


class CalendarView(StrictQueryParamsMixin, APIView):
    """SH/SZ trading days from ``start`` to ``end`` (inclusive), from ``etfs.calendar``."""

    query_serializers = (CalendarQuerySerializer,)

    @extend_schema(parameters=[CalendarQuerySerializer], responses={200: CalendarSerializer})
    def get(self, request: Request) -> Response:
        params = validate_query(CalendarQuerySerializer, request.query_params)
        start, end = params["start"], params["end"]
        days = calendar.trading_days(start, end)
        return Response(CalendarSerializer({"start": start, "end": end, "count": len(days), "trading_days": days}).data)


def _etf_screen(request: Request) -> bool:
    return str(request.query_params.get("is_etf", "")).strip().lower() == "true"
