"""Who may call the API: reads are public unless ``API_REQUIRE_TOKEN``; writes need staff and a model permission.

``ReadPublicWriteStaff`` is DRF's ``DEFAULT_PERMISSION_CLASSES``: a view that names no permission
classes gets it, so a new endpoint refuses anonymous writes without having to remember to.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class ReadPublicWriteStaff(BasePermission):
    """Reads open to everyone (or to authenticated users when ``API_REQUIRE_TOKEN``); writes for staff
    users holding the view's ``write_permission`` (what the admin asks for the same action).

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
        if request.method not in getattr(view, "allowed_methods", ()):
            return True  # nothing to permit: the view answers 405
        if not (user and user.is_authenticated and user.is_staff):
            return False
        # The admin decides with model permissions, not staff status alone: the API asks for
        # the same one (the view's ``write_permission``), so a staff user without it is refused
        # here as there. A view that names none allows no writes at all.
        required: str | None = getattr(view, "write_permission", None)
        return required is not None and user.has_perm(required)
