"""ASGI entry point (uvicorn etfproject.asgi:application)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
application = get_asgi_application()

from etfproject.safety import refuse_public_secret_key  # noqa: E402  (needs the settings loaded)

refuse_public_secret_key()
