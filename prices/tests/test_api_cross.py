"""``/api/bars/``: many symbols in long format, and one date of every filtered instrument."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection

from etfs.tests.factories import InstrumentFactory, StockFactory, make_bars
from prices.models import CorporateAction, DailyBar, trading_date_to_time

pytestmark = pytest.mark.django_db

URL = "/api/bars/"
DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5), dt.date(2024, 1, 8)]


def make_market():
    """Two ETFs and a stock; 159919 is suspended on 4 January; 510300 pays 0.1 on 5 January."""
    hs300 = InstrumentFactory(code="510300", name="沪深300ETF")
    jiashi = InstrumentFactory(code="159919", exchange="SZ", name="嘉实300ETF")
    pufa = StockFactory(code="600000", name="浦发银行")
    make_bars(hs300, DAYS, [D("3.500"), D("3.520"), D("3.480"), D("3.400"), D("3.450")])
    make_bars(jiashi, [d for d in DAYS if d != dt.date(2024, 1, 4)], [D("3.600"), D("3.610"), D("3.650"), D("3.700")])
    make_bars(pufa, DAYS, [D("7.10"), D("7.15"), D("7.05"), D("7.00"), D("7.20")])
    CorporateAction.objects.create(instrument=hs300, ex_date=dt.date(2024, 1, 5), cash=D("0.100"))
    return hs300, jiashi, pufa


def get(client, path, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_symbols_answer_long_format_ordered_by_symbol_then_date(client):
    make_market()
    rows = get(client, URL, symbols="510300.SH,159919.SZ", end="2024-01-03")["results"]
    assert [(r["symbol"], r["date"]) for r in rows] == [
        ("159919.SZ", "2024-01-02"),
        ("159919.SZ", "2024-01-03"),
        ("510300.SH", "2024-01-02"),
        ("510300.SH", "2024-01-03"),
    ]


@pytest.mark.parametrize("adjust", ["none", "qfq", "hfq"])
@pytest.mark.parametrize("interval", ["1d", "1w"])
def test_many_symbols_equal_the_per_symbol_answers(client, adjust, interval):
    make_market()
    params = {"adjust": adjust, "interval": interval, "start": "2024-01-03"}
    many = get(client, URL, symbols="sh510300,600000.XSHG,159919", **params)["results"]
    single = []
    for symbol in ("159919.SZ", "510300.SH", "600000.SH"):
        single += [
            {"symbol": symbol, **row} for row in get(client, f"/api/instruments/{symbol}/bars/", **params)["results"]
        ]
    assert many == single


@pytest.mark.parametrize("adjust", ["none", "qfq", "hfq"])
def test_a_cross_section_equals_the_per_symbol_answers_of_that_day(client, adjust):
    make_market()
    section = get(client, URL, date="2024-01-05", adjust=adjust)["results"]
    expected = []
    for symbol in ("159919.SZ", "510300.SH", "600000.SH"):
        bars = get(client, f"/api/instruments/{symbol}/bars/", adjust=adjust)["results"]
        expected += [{"symbol": symbol, **row} for row in bars if row["date"] == "2024-01-05"]
    assert section == expected
    assert len(section) == 3


def test_a_cross_section_takes_the_instrument_filters(client):
    make_market()
    rows = get(client, URL, date="20240105", is_etf="true")["results"]
    assert [r["symbol"] for r in rows] == ["159919.SZ", "510300.SH"]


def test_a_cross_section_leaves_out_instruments_without_a_bar_that_day(client):
    make_market()
    rows = get(client, URL, date="2024-01-04")["results"]
    assert [r["symbol"] for r in rows] == ["510300.SH", "600000.SH"]


def test_a_cross_section_after_a_suspension_takes_pre_close_from_the_last_bar(client):
    make_market()
    rows = get(client, URL, date="2024-01-05")["results"]
    jiashi = next(r for r in rows if r["symbol"] == "159919.SZ")
    assert jiashi["pre_close"] == 3.610  # 3 January's close: it did not trade on the 4th
    assert jiashi["pct_chg"] == 1.108  # 0.04 / 3.61 × 100, to 4 decimals


def test_a_cross_section_costs_the_same_queries_whatever_the_number_of_instruments(
    client, django_assert_max_num_queries
):
    make_market()
    for n in range(20):
        make_bars(InstrumentFactory(code=f"{512000 + n}"), DAYS)
    with django_assert_max_num_queries(3):  # instruments, bars with their previous close, actions
        response = client.get(URL, {"date": "2024-01-05"})
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) >= 20  # the 20 made here, besides the market's


def test_many_symbols_page_by_symbol_and_date(client):
    make_market()
    url, seen, pages = f"{URL}?symbols=510300.SH,159919.SZ,600000.SH&page_size=4", [], 0
    while url:
        body = client.get(url).json()
        seen += [(r["symbol"], r["date"]) for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 4
    assert len(seen) == 14 and len(set(seen)) == 14
    assert seen == sorted(seen)


def test_a_cross_section_pages_by_symbol(client):
    make_market()
    first = get(client, URL, date="2024-01-05", page_size=2)
    second = client.get(first["next"]).json()
    assert [r["symbol"] for r in first["results"]] == ["159919.SZ", "510300.SH"]
    assert [r["symbol"] for r in second["results"]] == ["600000.SH"]
    assert second["next"] is None


def test_fields_choose_the_columns_in_order(client):
    make_market()
    rows = get(client, URL, date="2024-01-05", fields="close,symbol")["results"]
    assert rows[0] == {"close": 3.65, "symbol": "159919.SZ"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "symbols"),
        ({"symbols": "510300.SH", "date": "2024-01-05"}, "symbols"),
        ({"date": "2024-01-05", "start": "2024-01-01"}, "date"),
        ({"date": "2024-01-05", "interval": "1w"}, "interval"),
        ({"symbols": "510300.SH,hello"}, "symbols"),
        ({"symbols": ","}, "symbols"),
        ({"date": "2024-1-5"}, "date"),
        ({"date": "2024-01-05", "fields": "date,colse"}, "fields"),
        ({"date": "2024-01-05", "as_of": "2024-01-05"}, "as_of"),
        ({"date": "2024-01-05", "ordering": "symbol"}, "ordering"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(client, params, field):
    make_market()
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_more_than_a_thousand_symbols_is_a_400(client):
    symbols = ",".join(f"{510000 + n}.SH" for n in range(1001))
    response = client.get(URL, {"symbols": symbols})
    assert response.status_code == 400
    assert "1000" in response.json()["symbols"][0]


def test_unknown_symbols_answer_404_naming_them(client):
    make_market()
    response = client.get(URL, {"symbols": "510300.SH,510999.SH"})
    assert response.status_code == 404
    assert "510999.SH" in response.json()["detail"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "path",
    [
        "/api/instruments/510300.SH/bars/",
        "/api/instruments/510300.SH/bars/?adjust=qfq",
        "/api/instruments/510300.SH/bars/?format=csv&adjust=hfq",
        "/api/instruments/510300.SH/bars/?format=parquet",
        "/api/bars/?symbols=510300.SH&adjust=qfq",
        "/api/bars/?symbols=510300.SH&format=parquet&adjust=qfq",
        "/api/bars/?date=2024-01-04",
        "/api/bars/?date=2024-01-05&adjust=qfq",
    ],
)
def test_a_nan_stored_by_an_earlier_version_is_served_as_null(client, path):

    hs300, _, _ = make_market()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DailyBar._meta.db_table} SET close = 'NaN'::numeric, amount = 'NaN'::numeric "
            'WHERE instrument_id = %s AND "time" = %s',
            [hs300.pk, trading_date_to_time(dt.date(2024, 1, 4))],
        )
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"NaN" not in body
    if "format" not in path:
        rows = {(r.get("symbol", "510300.SH"), r["date"]): r for r in response.json()["results"]}
        if ("510300.SH", "2024-01-04") in rows:
            assert rows[("510300.SH", "2024-01-04")]["close"] is None
        if ("510300.SH", "2024-01-05") in rows:
            assert rows[("510300.SH", "2024-01-05")]["pre_close"] is None
