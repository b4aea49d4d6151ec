"""URLs under ``/api/``: the REST API's router, schema and docs (Swagger UI from our own static files)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from etfs.api.views import EtfViewSet, HealthView, InstrumentViewSet, SyncRunViewSet, api_not_found
from prices.api.views import InstrumentBarsView, LatestBarsView

router = DefaultRouter()
router.include_format_suffixes = False
router.register("instruments", InstrumentViewSet, basename="instrument")
router.register("etfs", EtfViewSet, basename="etf")
router.register("sync-runs", SyncRunViewSet, basename="syncrun")

urlpatterns = [
    path("instruments/<str:symbol>/bars/", InstrumentBarsView.as_view(), name="instrument-bars"),
    path("bars/latest/", LatestBarsView.as_view(), name="bars-latest"),
    path("health/", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
    # Last: any other path ending in a slash answers a JSON 404 (the ones without a slash
    # still get CommonMiddleware's APPEND_SLASH redirect first).
    re_path(r"^[\s\S]*/$", api_not_found),
]
