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
    body = response.json()
    none = {"last_success_at": None, "age_seconds": None, "running_run": None, "stalled_run": None}
    assert (body["database"], body["syncs"]) == ("ok", {"etfs": none, "stocks": none})


def test_age_counts_from_the_last_successful_finish():
    now = timezone.now()
    SyncRunFactory(status=SyncRun.Status.SUCCESS, finished_at=now - dt.timedelta(hours=3))
    SyncRunFactory(status=SyncRun.Status.SUCCESS, finished_at=now - dt.timedelta(hours=1))
    SyncRunFactory(status=SyncRun.Status.FAILED, finished_at=now - dt.timedelta(minutes=5))
    healthy, report = health_report(now)
    assert healthy
    etfs = report["syncs"]["etfs"]
    assert (etfs["last_success_at"], etfs["age_seconds"]) == (now - dt.timedelta(hours=1), 3600.0)
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


def test_a_running_sync_without_heartbeat_is_reported_stalled(settings):
    settings.SYNC = {**settings.SYNC, "STALE_RUN_SECONDS": 600}
    now = timezone.now()
    quiet = SyncRunFactory(status=SyncRun.Status.RUNNING, heartbeat_at=now - dt.timedelta(minutes=20))
    busy = SyncRunFactory(kind=SyncRun.Kind.STOCKS, status=SyncRun.Status.RUNNING, heartbeat_at=now)

    _healthy, report = health_report(now)

    assert (report["syncs"]["etfs"]["running_run"], report["syncs"]["etfs"]["stalled_run"]) == (quiet.pk, quiet.pk)
    assert (report["syncs"]["stocks"]["running_run"], report["syncs"]["stocks"]["stalled_run"]) == (busy.pk, None)
