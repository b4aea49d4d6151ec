"""Who may call the API: reads are public unless ``API_REQUIRE_TOKEN``; writes need staff."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class ReadPublicWriteStaff(BasePermission):
    """Reads open to everyone (or to authenticated users when ``API_REQUIRE_TOKEN``), writes staff-only.

    The setting is read per request rather than at import, so a deployment flag and tests
    that override settings both take effect.
    """

    @staticmethod
    def allows_anonymous(method: str) -> bool:
        return method in SAFE_METHODS and not settings.API_REQUIRE_TOKEN

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if request.method in SAFE_METHODS:
            return not settings.API_REQUIRE_TOKEN or bool(user and user.is_authenticated)
        return bool(user and user.is_authenticated and user.is_staff)
