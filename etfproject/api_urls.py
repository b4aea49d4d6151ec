"""URLs under ``/api/``: the REST API, its browsable root, schema and docs (Swagger UI from our own static files)."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from etfs.api.funds import FundNavView, FundSharesView
from etfs.api.root import ApiRootView, SchemaView, SwaggerView
from etfs.api.views import EtfViewSet, HealthView, InstrumentViewSet, SyncRunViewSet, api_not_found
from prices.api.views import BarsView, CalendarView, InstrumentActionsView, InstrumentBarsView, LatestBarsView

router = DefaultRouter()
router.include_format_suffixes = False
router.include_root_view = False  # ApiRootView lists every endpoint, not only the router's
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("etfs", EtfViewSet, basename="etf")
router.register("sync-runs", SyncRunViewSet, basename="syncrun")

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("instruments/<str:symbol>/bars/", InstrumentBarsView.as_view(), name="instrument-bars"),
    path("instruments/<str:symbol>/actions/", InstrumentActionsView.as_view(), name="instrument-actions"),
    path("bars/", BarsView.as_view(), name="bars"),
    path("bars/latest/", LatestBarsView.as_view(), name="bars-latest"),
    path("calendar/", CalendarView.as_view(), name="calendar"),
    path("etfs/<str:symbol>/nav/", FundNavView.as_view(), name="etf-nav"),
    path("etfs/<str:symbol>/shares/", FundSharesView.as_view(), name="etf-shares"),
    path("health/", HealthView.as_view(), name="health"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
    # Last: any other path ending in a slash answers a JSON 404 (the ones without a slash
    # still get CommonMiddleware's APPEND_SLASH redirect first).
    re_path(r"^[\s\S]*/$", api_not_found),
]
