"""Safe defaults that need code: no serving with the public key, no secret in any error page.

Django's own ``SafeExceptionReporterFilter`` hides settings and request headers by *name*
(``PASSWORD``, ``SECRET``, ``KEY``…). A database URL carries its password inside the value,
under names it does not know (``DATABASE_URL`` in the environment that ``runserver`` copies
into ``request.META``, a traceback's local variable). ``SecretFilter`` hides every value that
contains one of the secrets this deployment was given, wherever it shows up.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.debug import SafeExceptionReporterFilter

# Environment variables whose values are URLs that may carry a password.
URL_VARIABLES = ("DATABASE_URL", "Q_REDIS_URL")


def refuse_public_secret_key() -> None:
    """Called by the WSGI/ASGI entry points: never serve with the key printed in our source."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (the development key is public)")


def url_password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def deployment_secrets() -> list[str]:
    """Every secret value this process knows: the key, database passwords, passwords inside URLs."""
    found = {settings.SECRET_KEY}
    for database in settings.DATABASES.values():
        found.add(str(database.get("PASSWORD") or ""))
    for name in URL_VARIABLES:
        value = os.environ.get(name, "")
        found |= {value, url_password(value)}
    redis_url = getattr(settings, "Q_REDIS_URL", "")
    found |= {redis_url, url_password(redis_url)}
    # Very short values would blank out ordinary text; passwords that short are not secrets anyway.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


class SecretFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: URL-ish names hidden by name, and any value containing a secret masked."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|DSN", flags=re.IGNORECASE
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        return self._mask(super().cleanse_setting(key, value))

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [(name, self._mask(value)) for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if not hasattr(parameters, "items"):
            return parameters
        cleansed = parameters.copy()
        for name, value in parameters.items():
            cleansed[name] = self._mask(value)
        return cleansed

    def _mask(self, value: Any) -> Any:
        """Replace every secret inside ``value`` (strings, and strings inside containers)."""
        if isinstance(value, dict):
            return {k: self._mask(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._mask(v) for v in value)
        text = value if isinstance(value, str) else None
        if text is None:
            try:
                text = repr(value)
            except Exception:
                return value
            masked = self._replace(text)
            return masked if masked != text else value
        return self._replace(text)

    def _replace(self, text: str) -> str:
        for secret in deployment_secrets():
            if secret in text:
                text = text.replace(secret, self.cleansed_substitute)
        return text
