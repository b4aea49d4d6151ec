"""Root URL configuration: admin, REST API (``/api/``), landing page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("etfproject.api_urls")),
    path("", include("etfs.site_urls")),
]
