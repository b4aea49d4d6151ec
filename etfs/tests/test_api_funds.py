"""The fund API: facts on ``/api/etfs/{symbol}/``, ``…/nav/``, ``…/shares/``, fund filters, the ETF screen."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest

from etfs.tests.factories import (
    DailyBarFactory,
    FundNavFactory,
    FundProfileFactory,
    FundSharesFactory,
    InstrumentFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]


@pytest.fixture
def etf():
    instrument = InstrumentFactory(code="510300", name="沪深300ETF")
    FundProfileFactory(instrument=instrument)
    for day, close, nav in zip(DAYS, ["3.500", "3.520", "3.530"], ["3.4900", "3.5200", "3.5400"], strict=True):
        DailyBarFactory(instrument=instrument, day=day, close=D(close), low=D("3.400"), high=D("3.600"))
        FundNavFactory(instrument=instrument, day=day, unit_nav=D(nav), accumulated_nav=D(nav) - 1)
    for day, shares in zip(DAYS, [9_000_000_000, 9_000_500_000, 8_999_000_000], strict=True):
        FundSharesFactory(instrument=instrument, day=day, shares=shares)
    return instrument


def test_etf_detail_carries_the_fund_facts(client, etf):
    body = client.get("/api/etfs/sh510300/").json()

    facts = {key: body[key] for key in ("tracking_index_code", "fund_company", "category", "management_fee", "t0")}
    assert facts == {
        "tracking_index_code": "000300",
        "fund_company": "华泰柏瑞基金",
        "category": "equity",
        "management_fee": 0.15,
        "t0": False,
    }
    assert (body["symbol"], body["bar_count"], body["inception_date"]) == ("510300.SH", 3, "2012-05-04")


def test_etf_detail_without_facts_has_nulls(client):
    InstrumentFactory(code="510500")

    body = client.get("/api/etfs/510500.SH/").json()

    assert (body["fund_company"], body["category"], body["t0"]) == (None, None, None)


def test_etf_detail_of_a_stock_is_404(client):
    StockFactory(code="600000")

    assert client.get("/api/etfs/600000.SH/").status_code == 404


def test_nav_rows_carry_close_and_premium(client, etf):
    rows = client.get("/api/etfs/510300.SH/nav/").json()

    assert rows[0] == {
        "date": "2024-01-02",
        "unit_nav": 3.49,
        "accumulated_nav": 2.49,
        "close": 3.5,
        "premium": 0.002865,  # 3.500 / 3.4900 - 1
    }
    assert [row["premium"] for row in rows[1:]] == [0.0, -0.002825]  # 3.520 / 3.5200 - 1, 3.530 / 3.5400 - 1


def test_nav_rows_honour_start_and_end(client, etf):
    rows = client.get("/api/etfs/510300.SH/nav/?start=2024-01-03&end=2024-01-03").json()

    assert [row["date"] for row in rows] == ["2024-01-03"]


def test_nav_csv_keeps_the_decimal_text(client, etf):
    response = client.get("/api/etfs/510300.SH/nav/?format=csv")

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0] == {
        "date": "2024-01-02",
        "unit_nav": "3.4900",
        "accumulated_nav": "2.4900",
        "close": "3.500",
        "premium": "0.002865",
    }


def test_shares_rows_carry_the_flow(client, etf):
    rows = client.get("/api/etfs/510300.SH/shares/").json()

    assert rows == [
        {"date": "2024-01-02", "shares": 9_000_000_000, "flow": None},
        {"date": "2024-01-03", "shares": 9_000_500_000, "flow": 1_760_000.0},  # 500,000 x 3.5200
        {"date": "2024-01-04", "shares": 8_999_000_000, "flow": -5_310_000.0},  # -1,500,000 x 3.5400
    ]


def test_shares_from_a_start_date_use_the_day_before_for_the_flow(client, etf):
    rows = client.get("/api/etfs/510300.SH/shares/?start=2024-01-03").json()

    assert rows[0]["flow"] == 1_760_000.0


def test_a_start_after_the_end_is_a_400(client, etf):
    response = client.get("/api/etfs/510300.SH/shares/?start=2024-02-01&end=2024-01-01")

    assert response.status_code == 400
    assert "start" in response.json()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=gold", ["518880.SH"]),
        ("fund_company=华泰", ["510300.SH"]),
        ("tracking_index=000300", ["510300.SH"]),
        ("tracking_index=黄金", ["518880.SH"]),
    ],
)
def test_etf_list_filters_by_fund_facts(client, etf, query, expected):
    gold = InstrumentFactory(code="518880", name="黄金ETF")
    FundProfileFactory(
        instrument=gold,
        category="gold",
        fund_company="华安基金",
        tracking_index_code="AU9999",
        tracking_index_name="黄金现货合约",
    )

    body = client.get(f"/api/etfs/?{query}").json()

    assert [row["symbol"] for row in body["results"]] == expected


def test_an_unknown_category_is_a_400(client, etf):
    assert client.get("/api/etfs/?category=crypto").status_code == 400


def test_etf_screen_adds_nav_premium_shares_and_aum(client, etf):
    rows = client.get("/api/bars/latest/?is_etf=true").json()

    row = rows[0]
    fund = (row["unit_nav"], row["premium"], row["shares"], row["aum"])
    assert fund == (3.54, -0.002825, 8_999_000_000, 31856460000.0)  # AUM = shares x unit NAV


def test_etf_screen_csv_has_the_fund_columns(client, etf):
    response = client.get("/api/bars/latest/?is_etf=true&format=csv")

    header = response.content.decode().splitlines()[0]
    assert header.endswith(",unit_nav,premium,shares,aum")


def test_the_whole_market_screen_has_no_fund_columns(client, etf):
    rows = client.get("/api/bars/latest/").json()

    assert "unit_nav" not in rows[0]
