"""No secret from the environment in any error page, even with DEBUG on."""

from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import technical_500_response

PASSWORD = "s3cret-Pa55word"
DATABASE_URL = f"postgres://etfsync:{PASSWORD}@db.internal:5432/etfsync"


def debug_page(database_url: str) -> str:
    """Django's DEBUG 500 page for an error raised with the URL in a local variable, as runserver
    renders it (runserver copies the environment into ``request.META``)."""
    request = RequestFactory().get("/boom/", DATABASE_URL=database_url, Q_REDIS_URL=f"redis://:{PASSWORD}@r:6379/0")
    try:
        url = database_url  # noqa: F841  (a traceback shows local variables)
        raise RuntimeError("could not connect")
    except RuntimeError:
        return technical_500_response(request, *sys.exc_info()).content.decode()


@pytest.fixture
def deployed_with_password(monkeypatch, settings):
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    settings.DEBUG = True


def test_debug_500_page_hides_the_database_password(deployed_with_password):
    page = debug_page(DATABASE_URL)

    assert "could not connect" in page  # it is the debug page
    assert PASSWORD not in page


def test_debug_500_page_hides_a_password_in_a_redis_url(deployed_with_password, monkeypatch):
    monkeypatch.setenv("Q_REDIS_URL", f"redis://:{PASSWORD}@r:6379/0")

    assert PASSWORD not in debug_page("")


def test_debug_500_page_still_shows_harmless_settings(deployed_with_password):
    assert "Asia/Shanghai" in debug_page(DATABASE_URL)
