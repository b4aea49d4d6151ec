"""``/api/sync-runs/``: public history; enqueue through django-q2 for staff with the admin's permission."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from django_q.models import OrmQ
from rest_framework.authtoken.models import Token

from etfs.models import SyncRun
from etfs.tests.factories import SyncRunFactory

pytestmark = pytest.mark.django_db

URL = "/api/sync-runs/"


@pytest.fixture
def queued_not_run(settings):
    """Tasks go to the ORM broker instead of running inline: the API's job ends at the queue."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


@pytest.fixture
def staff_token(django_user_model):
    user = django_user_model.objects.create_user("ops", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_instrument"))
    return Token.objects.create(user=user).key


def test_list_is_public_and_newest_first(client):
    now = timezone.now()
    older = SyncRunFactory(started_at=now - dt.timedelta(days=1), status=SyncRun.Status.SUCCESS)
    newer = SyncRunFactory(kind=SyncRun.Kind.STOCKS, started_at=now, status=SyncRun.Status.PARTIAL)
    body = client.get(URL).json()
    assert [(r["id"], r["kind"], r["status"]) for r in body["results"]] == [
        (newer.pk, "stocks", "partial"),
        (older.pk, "etfs", "success"),
    ]


def test_list_filters_by_kind_and_status(client):
    SyncRunFactory(status=SyncRun.Status.SUCCESS)
    failed = SyncRunFactory(status=SyncRun.Status.FAILED)
    SyncRunFactory(kind=SyncRun.Kind.STOCKS, status=SyncRun.Status.FAILED)
    body = client.get(URL, {"kind": "etfs", "status": "failed"}).json()
    assert [r["id"] for r in body["results"]] == [failed.pk]


def test_list_takes_two_queries(client, django_assert_num_queries):
    for _ in range(3):
        SyncRunFactory()
    with django_assert_num_queries(2):  # count, page
        response = client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_detail_shows_counters_and_errors(client):
    run = SyncRunFactory(
        status=SyncRun.Status.PARTIAL,
        bars_inserted=240,
        failures=1,
        errors=[{"symbol": "510300.SH", "error": "timeout"}],
        message="1 instrument failed",
    )
    body = client.get(f"{URL}{run.pk}/").json()
    assert (body["bars_inserted"], body["failures"], body["errors"], body["message"]) == (
        240,
        1,
        [{"symbol": "510300.SH", "error": "timeout"}],
        "1 instrument failed",
    )


def test_detail_of_missing_run_is_404(client):
    assert client.get(f"{URL}999999/").status_code == 404


def test_anonymous_cannot_enqueue(client, queued_not_run):
    response = client.post(URL, {"kind": "etfs"}, content_type="application/json")
    assert response.status_code == 401
    assert not SyncRun.objects.exists()


def test_non_staff_cannot_enqueue(client, django_user_model, queued_not_run):
    token = Token.objects.create(user=django_user_model.objects.create_user("quant")).key
    response = client.post(URL, {"kind": "etfs"}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


def test_staff_without_the_model_permission_cannot_enqueue(client, django_user_model, queued_not_run):
    user = django_user_model.objects.create_user("intern", is_staff=True)
    token = Token.objects.create(user=user).key

    response = client.post(
        URL, {"kind": "stocks", "full": True}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )

    assert response.status_code == 403
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_any_depth_answers_400(client, staff_token, queued_not_run, depth):
    body = "[" * depth + "]" * depth

    response = client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {staff_token}")

    assert response.status_code == 400
    assert not SyncRun.objects.exists()


def test_deeply_nested_json_answers_400_on_any_endpoint_taking_json(client, staff_token):
    body = '{"kind": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {staff_token}")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_staff_enqueues_a_sync_and_gets_202_with_the_run(client, staff_token, queued_not_run):
    response = client.post(
        URL,
        {"kind": "etfs", "symbols": ["sh510300", "159919"], "full": True},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {staff_token}",
    )
    assert response.status_code == 202
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert (run.status, run.trigger, run.triggered_by) == ("queued", "api", "ops")
    assert run.parameters == {"symbols": ["510300.SH", "159919.SZ"], "full": True}
    assert response.json()["status"] == "queued"
    assert OrmQ.objects.count() == 1


def test_staff_session_can_enqueue(admin_client, queued_not_run):
    response = admin_client.post(URL, {"kind": "stocks"}, content_type="application/json")
    assert response.status_code == 202
    assert SyncRun.objects.get(pk=response.json()["id"]).kind == "stocks"


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"kind": "bonds"}, "kind"), ({}, "kind"), ({"kind": "etfs", "symbols": ["510300", "nonsense"]}, "symbols")],
)
def test_bad_sync_request_is_400_naming_the_field(client, staff_token, queued_not_run, payload, field):
    response = client.post(URL, payload, content_type="application/json", HTTP_AUTHORIZATION=f"Token {staff_token}")
    assert response.status_code == 400
    assert field in response.json()
    assert not SyncRun.objects.exists()
