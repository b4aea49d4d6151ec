"""OpenAPI generation tuned to our API, so the published contract says what calls really answer.

Two things drf-spectacular cannot infer: which reads are public under our permission, and
the error answers every operation can give (400 field errors, 401/403, 404, 429).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from etfs.rest.permissions import ReadPublicWriteStaff

ERROR_BODY = {
    "type": "object",
    "additionalProperties": True,
    "description": '{"detail": message} or, for invalid input, {field: [messages]}',
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus public reads and documented error answers."""

    def get_auth(self) -> list[dict[str, Any]]:
        """Mark reads our permission opens to everyone as needing no credentials.

        Spectacular recognises only DRF's own ``AllowAny``/``IsAuthenticatedOrReadOnly``;
        ours decides per method and per ``API_REQUIRE_TOKEN``.
        """
        auths = super().get_auth()
        public = any(
            isinstance(permission, ReadPublicWriteStaff) and permission.allows_anonymous(self.method)
            for permission in self.view.get_permissions()
        )
        if public and {} not in auths:
            auths.append({})
        return auths

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for code, description in self.error_answers(operation):
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": ERROR_BODY}}}
            )
        return operation

    def error_answers(self, operation: dict[str, Any]) -> list[tuple[str, str]]:
        parameters = operation.get("parameters", [])
        answers = [("401", "Invalid credentials, or credentials required (API_REQUIRE_TOKEN)")]
        if not any(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            answers.append(("403", "Not allowed (writes need a staff user)"))
        if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
            answers.append(("400", "Invalid input, with messages per field"))
        if "requestBody" in operation:
            answers.append(("415", "Unsupported request body type"))
        if any(p.get("in") == "path" or p.get("name") == "page" for p in parameters):
            answers.append(("404", "No such object or page (the message says which)"))
        if self.view.get_throttles():
            answers.append(("429", "Throttled (API_THROTTLE_ANON / API_THROTTLE_USER)"))
        return sorted(answers)
