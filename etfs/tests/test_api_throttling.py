"""Throttling: off by default, on when API_THROTTLE_ANON / API_THROTTLE_USER set DRF rates."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from etfs.tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon_rate(monkeypatch):
    """Rates as the settings would read them from API_THROTTLE_ANON at start-up.

    DRF copies the rates into the throttle classes at import, so tests set them there.
    """
    cache.clear()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": None})
    yield
    cache.clear()


def test_no_throttling_by_default(client):
    assert AnonRateThrottle().rate is None
    InstrumentFactory(code="510300")
    assert {client.get("/api/instruments/").status_code for _ in range(5)} == {200}


def test_anonymous_calls_beyond_the_rate_answer_429(client, anon_rate):
    InstrumentFactory(code="510300")
    statuses = [client.get("/api/instruments/510300.SH/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_throttled_answer_says_when_to_retry(client, anon_rate):
    for _ in range(2):
        client.get("/api/etfs/")
    response = client.get("/api/etfs/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_health_is_never_throttled(client, anon_rate):
    assert [client.get("/api/health/").status_code for _ in range(4)] == [200, 200, 200, 200]
