"""Sync run admin: status at a glance, duration, errors per instrument, re-running the failed part."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from etfs.admin import format_duration
from etfs.models import SyncRun
from etfs.tests.factories import SyncRunFactory

CHANGELIST = reverse("admin:etfs_syncrun_changelist")

pytestmark = pytest.mark.django_db


def finished_run(**fields) -> SyncRun:
    started = timezone.now() - dt.timedelta(minutes=3)
    return SyncRunFactory(started_at=started, finished_at=started + dt.timedelta(seconds=125), **fields)


def test_status_is_coloured_in_the_list(admin_client):
    finished_run(status=SyncRun.Status.FAILED)

    html = admin_client.get(CHANGELIST).content.decode()

    assert 'class="syncrun-status syncrun-status-failed" style="color:#fff;background:#cf222e;' in html


def test_list_shows_duration_and_failure_count(admin_client):
    finished_run(status=SyncRun.Status.PARTIAL, errors=[{"symbol": "510300.SH", "error": "HTTP 502"}])

    response = admin_client.get(CHANGELIST)

    row = response.context["cl"].result_list[0]
    model_admin = response.context["cl"].model_admin
    assert model_admin.duration_display(row) == "2 min 5 s"
    assert model_admin.failed_count(row) == 1


def test_filter_by_kind_and_status(admin_client):
    wanted = finished_run(kind=SyncRun.Kind.STOCKS, status=SyncRun.Status.FAILED)
    finished_run(kind=SyncRun.Kind.ETFS, status=SyncRun.Status.FAILED)
    finished_run(kind=SyncRun.Kind.STOCKS, status=SyncRun.Status.SUCCESS)

    response = admin_client.get(CHANGELIST, {"kind__exact": "stocks", "status__exact": "failed"})

    assert [run.pk for run in response.context["cl"].result_list] == [wanted.pk]


def test_change_page_lists_errors_per_instrument(admin_client):
    run = finished_run(
        status=SyncRun.Status.PARTIAL,
        errors=[
            {"symbol": "510300.SH", "error": "HTTP 502 <bad gateway>"},
            {"symbol": "159915.SZ", "error": "timeout"},
        ],
    )

    html = admin_client.get(reverse("admin:etfs_syncrun_change", args=[run.pk])).content.decode()

    assert "<tr><td>510300.SH</td><td>HTTP 502 &lt;bad gateway&gt;</td></tr>" in html
    assert "<tr><td>159915.SZ</td><td>timeout</td></tr>" in html


def test_change_page_is_read_only(admin_client):
    run = finished_run(status=SyncRun.Status.SUCCESS, message="all good")
    url = reverse("admin:etfs_syncrun_change", args=[run.pk])

    admin_client.post(url, {"message": "edited"})

    run.refresh_from_db()
    assert run.message == "all good"
    assert 'name="_save"' not in admin_client.get(url).content.decode()


def test_rerun_failed_enqueues_exactly_the_failed_symbols(admin_client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}  # queue it; no worker runs here
    failed = finished_run(
        kind=SyncRun.Kind.STOCKS,
        status=SyncRun.Status.PARTIAL,
        errors=[{"symbol": "600519.SH", "error": "HTTP 502"}, {"symbol": "000001.SZ", "error": "timeout"}],
    )

    admin_client.post(CHANGELIST, {"action": "rerun_failed", "_selected_action": [failed.pk]})

    rerun = SyncRun.objects.exclude(pk=failed.pk).get()
    assert (rerun.kind, rerun.status, rerun.trigger) == ("stocks", "queued", "admin")
    assert rerun.parameters["symbols"] == ["000001.SZ", "600519.SH"]


def test_rerun_of_a_run_without_failures_queues_nothing(admin_client):
    ok = finished_run(status=SyncRun.Status.SUCCESS)

    response = admin_client.post(CHANGELIST, {"action": "rerun_failed", "_selected_action": [ok.pk]}, follow=True)

    assert SyncRun.objects.count() == 1
    assert f"No failed instruments in run(s) #{ok.pk}." in [str(m) for m in response.context["messages"]]


def test_runs_cannot_be_added_by_hand(admin_client):
    response = admin_client.get(reverse("admin:etfs_syncrun_add"))

    assert response.status_code == 403


@pytest.mark.parametrize(("seconds", "text"), [(4.26, "4.3 s"), (65, "1 min 5 s"), (3 * 3600 + 125, "3 h 2 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
