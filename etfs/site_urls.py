"""Human-facing pages outside the admin (the landing page)."""

from __future__ import annotations

from django.urls import path

from etfs.views import landing

urlpatterns = [
    path("", landing, name="landing"),
]
