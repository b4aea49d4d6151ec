"""``/api/instruments/``, ``/api/etfs/`` and ``/api/instruments/{symbol}/``."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.authtoken.models import Token

from etfs.models import AssetType
from etfs.tests.factories import DailyBarFactory, InstrumentFactory, StockFactory

pytestmark = pytest.mark.django_db


def make_universe():
    InstrumentFactory(code="510300", name="沪深300ETF")
    InstrumentFactory(code="159919", exchange="SZ", name="嘉实沪深300ETF")
    InstrumentFactory(code="510050", name="上证50ETF", is_active=False)
    InstrumentFactory(code="501018", name="南方原油LOF", is_etf=False, asset_type=AssetType.LOF)
    StockFactory(code="600000", name="浦发银行")


def symbols(response):
    assert response.status_code == 200, response.content
    return [row["symbol"] for row in response.json()["results"]]


def test_list_is_paginated_and_ordered_by_symbol(client):
    make_universe()
    body = client.get("/api/instruments/").json()
    assert body["count"] == 5
    assert [r["symbol"] for r in body["results"]] == [
        "159919.SZ",
        "501018.SH",
        "510050.SH",
        "510300.SH",
        "600000.SH",
    ]


def test_list_row_carries_the_instrument_fields(client):
    InstrumentFactory(code="510300", name="沪深300ETF", list_date=dt.date(2012, 5, 28))
    (row,) = client.get("/api/instruments/").json()["results"]
    assert row == {
        "symbol": "510300.SH",
        "code": "510300",
        "exchange": "SH",
        "name": "沪深300ETF",
        "is_etf": True,
        "asset_type": "etf",
        "is_active": True,
        "list_date": "2012-05-28",
        "delist_date": None,
        "price_decimals": 3,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"is_etf": "false"}, ["501018.SH", "600000.SH"]),
        ({"exchange": "SZ"}, ["159919.SZ"]),
        ({"is_active": "false"}, ["510050.SH"]),
        ({"asset_type": "lof"}, ["501018.SH"]),
        ({"is_etf": "true", "is_active": "true", "exchange": "SH"}, ["510300.SH"]),
    ],
)
def test_filters(client, params, expected):
    make_universe()
    assert symbols(client.get("/api/instruments/", params)) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [("沪深300", ["159919.SZ", "510300.SH"]), ("5100", ["510050.SH"]), (".SZ", ["159919.SZ"])],
)
def test_search_over_name_code_and_symbol(client, term, expected):
    make_universe()
    assert symbols(client.get("/api/instruments/", {"search": term})) == expected


def test_ordering(client):
    make_universe()
    assert symbols(client.get("/api/instruments/", {"ordering": "-code", "is_etf": "true"})) == [
        "510300.SH",
        "510050.SH",
        "159919.SZ",
    ]


def test_page_size_parameter_splits_pages(client):
    make_universe()
    body = client.get("/api/instruments/", {"page": 2, "page_size": 2}).json()
    assert body["count"] == 5
    assert [r["symbol"] for r in body["results"]] == ["510050.SH", "510300.SH"]
    assert "page=3" in body["next"]


def test_bad_filter_value_is_400(client):
    response = client.get("/api/instruments/", {"exchange": "HK"})
    assert response.status_code == 400
    assert "exchange" in response.json()


def test_search_refuses_null_characters(client):
    response = client.get("/api/instruments/", {"search": "a\x00b"})
    assert response.status_code == 400


def test_list_takes_two_queries(client, django_assert_num_queries):
    make_universe()
    with django_assert_num_queries(2):  # count, page
        response = client.get("/api/instruments/")
    assert len(symbols(response)) == 5


def test_etfs_lists_only_etfs(client):
    make_universe()
    assert symbols(client.get("/api/etfs/")) == ["159919.SZ", "510050.SH", "510300.SH"]


def test_etfs_take_the_same_filters(client):
    make_universe()
    assert symbols(client.get("/api/etfs/", {"is_active": "true", "search": "300"})) == ["159919.SZ", "510300.SH"]


def test_detail_shows_history_extent(client):
    etf = InstrumentFactory(code="510300")
    for day in (dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)):
        DailyBarFactory(instrument=etf, day=day)
    body = client.get("/api/instruments/510300.SH/").json()
    assert (body["symbol"], body["first_bar_date"], body["last_bar_date"], body["bar_count"]) == (
        "510300.SH",
        "2024-01-02",
        "2024-01-04",
        3,
    )


def test_detail_without_bars_has_empty_extent(client):
    InstrumentFactory(code="510300")
    body = client.get("/api/instruments/510300.SH/").json()
    assert (body["first_bar_date"], body["last_bar_date"], body["bar_count"]) == (None, None, 0)


@pytest.mark.parametrize("form", ["510300.SH", "sh510300", "SH510300", "1.510300", "510300", "510300.sh"])
def test_detail_accepts_every_symbol_form(client, form):
    InstrumentFactory(code="510300")
    assert client.get(f"/api/instruments/{form}/").json()["symbol"] == "510300.SH"


def test_detail_takes_one_query(client, django_assert_num_queries):
    InstrumentFactory(code="510300")
    with django_assert_num_queries(1):
        response = client.get("/api/instruments/sh510300/")
    assert response.status_code == 200
    assert response.json()["symbol"] == "510300.SH"


def test_detail_of_unknown_symbol_is_404_naming_it(client):
    response = client.get("/api/instruments/159999/")
    assert response.status_code == 404
    assert "159999.SZ" in response.json()["detail"]


def test_detail_of_unparseable_symbol_is_404_with_the_reason(client):
    response = client.get("/api/instruments/ABC123/")
    assert response.status_code == 404
    assert "'ABC123' is not an instrument symbol" in response.json()["detail"]


def test_reads_need_a_token_when_the_setting_says_so(client, settings, django_user_model):
    settings.API_REQUIRE_TOKEN = True
    InstrumentFactory(code="510300")
    refused = client.get("/api/instruments/")
    assert (refused.status_code, refused["WWW-Authenticate"]) == (401, "Token")
    token = Token.objects.create(user=django_user_model.objects.create_user("quant"))
    response = client.get("/api/instruments/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert symbols(response) == ["510300.SH"]


def test_instruments_cannot_be_written(admin_client):
    response = admin_client.post("/api/instruments/", {"code": "510300", "exchange": "SH"})
    assert response.status_code == 405
