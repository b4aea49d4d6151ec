"""Project-wide pytest fixtures: database tier facts and test-friendly settings."""

from __future__ import annotations

import os

import pytest
from django.db import connection

TIER = os.environ.get("ETFSYNC_TEST_TIER", "sqlite")


@pytest.fixture(autouse=True)
def _tasks_run_inline(settings):
    """django-q2 runs tasks in-process in tests (the Timescale tier allows one connection)."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


@pytest.fixture(autouse=True)
def _no_screen_cache(settings):
    """Tests write bars directly (no sync heartbeat): never serve them a cached screen."""
    settings.CACHES = {**settings.CACHES, "screens": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.fixture
def db_vendor() -> str:
    """``sqlite`` or ``postgresql`` (TimescaleDB reports ``postgresql`` too)."""
    return connection.vendor


@pytest.fixture
def is_timescale(settings) -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "timescale.db.backends.postgresql"
