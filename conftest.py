"""Project-wide pytest fixtures: database tier facts and test-friendly settings."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

TIER = os.environ.get("ETFSYNC_TEST_TIER", "sqlite")

# ``sync_host``: a simulator with the settings pointing at it, for the sync tests of every app.
pytest_plugins = ["etfs.tests.hosts"]

# What each backend marker needs, read from the configured database engine: plain ``pytest``
# is then correct on any backend, and tools/run_tests.py only chooses which backend to start.
_ENGINES_FOR_MARKER = {
    "postgres": {"django.db.backends.postgresql", "timescale.db.backends.postgresql"},
    "timescale": {"timescale.db.backends.postgresql"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests whose backend marker the configured database does not satisfy."""
    engine = settings.DATABASES["default"]["ENGINE"]
    for item in items:
        for marker, engines in _ENGINES_FOR_MARKER.items():
            if item.get_closest_marker(marker) and engine not in engines:
                item.add_marker(pytest.mark.skip(reason=f"needs {marker} (this run's database engine is {engine})"))
                break


@pytest.fixture(autouse=True)
def _tasks_run_inline(settings):
    """django-q2 runs tasks in-process in tests: no qcluster to start, results seen at once."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


@pytest.fixture(autouse=True)
def _no_screen_cache(settings):
    """Tests write bars directly (no sync heartbeat): never serve them a cached screen."""
    settings.CACHES = {**settings.CACHES, "screens": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.fixture(autouse=True)
def _no_fund_data_phase(settings):
    """The ETF sync's fund-data phase talks to other hosts: tests about funds turn it on
    (``fund_settings`` in ``etfs/tests/conftest.py``), so every other test's request counts
    are the price hosts' alone."""
    settings.FUNDDATA = {**settings.FUNDDATA, "ENABLED": False}


@pytest.fixture
def db_vendor() -> str:
    """``sqlite`` or ``postgresql`` (TimescaleDB reports ``postgresql`` too)."""
    return connection.vendor


@pytest.fixture
def is_timescale(settings) -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "timescale.db.backends.postgresql"


@pytest.fixture(autouse=True)
def _release_run_locks(django_db_blocker):
    """Runs a test claimed and left unfinished on purpose give up their liveness locks."""
    yield
    from etfs.sync.runs import release_all_runs

    with django_db_blocker.unblock():
        release_all_runs()


@pytest.fixture(autouse=True)
def _fresh_calendar():
    """The calendar caches stored sessions per process: each test starts from ``exchange_calendars``
    alone and reads stored sessions only after something stores them (``calendar.refresh``)."""
    from etfs import calendar

    calendar.reset(stored=False)
    yield
    calendar.reset(stored=False)
