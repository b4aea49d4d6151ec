"""Unknown query parameters answer 400 naming them, on every endpoint; the parameters each takes still work."""

from __future__ import annotations

import pytest

from etfs.tests.factories import DailyBarFactory, InstrumentFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/",
    "/api/instruments/",
    "/api/instruments/510300.SH/",
    "/api/instruments/510300.SH/bars/",
    "/api/instruments/510300.SH/actions/",
    "/api/etfs/",
    "/api/bars/?date=2024-01-02",
    "/api/bars/latest/",
    "/api/calendar/?start=2024-01-01&end=2024-01-31",
    "/api/sync-runs/",
    "/api/health/",
    "/api/schema/",
]


@pytest.fixture
def data(db):
    instrument = InstrumentFactory(code="510300")
    DailyBarFactory(instrument=instrument)
    SyncRunFactory()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_as_of_answers_400_naming_it(client, data, path):
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}as_of=2024-01-02")
    assert response.status_code == 400
    body = response.json()
    assert "as_of" in body
    assert "this endpoint takes" in body["as_of"][0]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_answers_without_unknown_parameters(client, data, path):
    assert client.get(path).status_code == 200


def test_a_misspelt_filter_is_named(client, data):
    response = client.get("/api/instruments/", {"is_eft": "true"})
    assert response.status_code == 400
    assert list(response.json()) == ["is_eft"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "1", "page_size": "10", "search": "510", "ordering": "-code", "is_etf": "true", "exchange": "SH"},
        {"is_active": "true", "asset_type": "etf", "format": "json"},
    ],
)
def test_drf_parameters_are_known(client, data, params):
    assert client.get("/api/instruments/", params).status_code == 200


def test_sync_run_filters_are_known(client, data):
    assert client.get("/api/sync-runs/", {"kind": "etfs", "status": "running", "trigger": "command"}).status_code == 200


def test_bar_cursor_and_page_size_are_known(client, data):
    assert (
        client.get("/api/instruments/510300.SH/bars/", {"page_size": "1", "cursor": "ZD0yMDI0LTAxLTAy"}).status_code
        == 200
    )


def test_the_browsable_root_lists_every_endpoint(client):
    body = client.get("/api/").json()
    for name in ("instruments", "instrument_bars", "instrument_actions", "etfs", "bars", "bars_latest", "calendar"):
        assert name in body
    for name in ("sync_runs", "health", "schema", "docs"):
        assert name in body
    assert body["instrument_actions"].endswith("/api/instruments/510300.SH/actions/")
