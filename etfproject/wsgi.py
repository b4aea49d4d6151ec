"""WSGI entry point (gunicorn etfproject.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
application = get_wsgi_application()

from etfproject.safety import refuse_public_secret_key  # noqa: E402  (needs the settings loaded)

refuse_public_secret_key()
