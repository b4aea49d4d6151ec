"""URLs under ``/api/``: the REST API's router, schema and docs."""

from __future__ import annotations

urlpatterns: list = []
