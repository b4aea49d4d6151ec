"""Human-facing pages outside the admin (the landing page)."""

from __future__ import annotations

urlpatterns: list = []
