"""``/api/health/``: database reachable, age of the last successful sync per kind."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from etfs.api.health import health_report
from etfs.models import SyncRun
from etfs.tests.factories import SyncRunFactory

pytestmark = pytest.mark.django_db


def test_health_reports_database_ok_and_no_sync_yet(client):
    response = client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "syncs": {
            "etfs": {"last_success_at": None, "age_seconds": None},
            "stocks": {"last_success_at": None, "age_seconds": None},
        },
    }


def test_age_counts_from_the_last_successful_finish():
    now = timezone.now()
    SyncRunFactory(status=SyncRun.Status.SUCCESS, finished_at=now - dt.timedelta(hours=3))
    SyncRunFactory(status=SyncRun.Status.SUCCESS, finished_at=now - dt.timedelta(hours=1))
    SyncRunFactory(status=SyncRun.Status.FAILED, finished_at=now - dt.timedelta(minutes=5))
    healthy, report = health_report(now)
    assert healthy
    assert report["syncs"]["etfs"] == {"last_success_at": now - dt.timedelta(hours=1), "age_seconds": 3600.0}
    assert report["syncs"]["stocks"]["age_seconds"] is None


def test_health_is_public_even_when_reads_need_a_token(client, settings):
    settings.API_REQUIRE_TOKEN = True
    assert client.get("/api/health/").status_code == 200


def test_unreadable_database_answers_503(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(SyncRun.objects, "filter", refuse)
    response = client.get("/api/health/")
    assert response.status_code == 503
    assert response.json() == {"database": "unreachable: OperationalError", "syncs": {}}
