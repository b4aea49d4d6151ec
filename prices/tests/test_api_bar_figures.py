"""Per-bar pre_close, change, pct_chg, adj_factor and adj_offset, consistent with the adjustment asked for."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from etfs.tests.factories import InstrumentFactory, StockFactory, make_bars
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db

URL = "/api/instruments/{}/bars/"
DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5), dt.date(2024, 1, 8)]
CLOSES = [D("3.500"), D("3.520"), D("3.300"), D("1.700"), D("1.720")]


def make_history(code="510300"):
    """A 0.1 distribution ex 4 January and a 1:2 split ex 5 January."""
    instrument = InstrumentFactory(code=code)
    make_bars(instrument, DAYS, CLOSES)
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 4), cash=D("0.100"))
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 5), split_ratio=D("2"))
    return instrument


def rows(client, **params):
    response = client.get(URL.format("510300.SH"), params)
    assert response.status_code == 200, response.content
    return {r["date"]: r for r in response.json()["results"]}


def test_the_first_bar_has_no_previous_close(client):
    make_history()
    first = rows(client)["2024-01-02"]
    assert (first["pre_close"], first["change"], first["pct_chg"]) == (None, None, None)


def test_raw_pre_close_is_the_previous_close_on_an_ordinary_day(client):
    make_history()
    bar = rows(client)["2024-01-03"]
    assert (bar["pre_close"], bar["change"], bar["pct_chg"]) == (3.5, 0.02, 0.5714)


def test_raw_pre_close_on_an_ex_day_is_the_exchange_reference_price(client):
    make_history()
    result = rows(client)
    assert result["2024-01-04"]["pre_close"] == 3.42  # 3.520 - 0.1
    assert result["2024-01-05"]["pre_close"] == 1.65  # 3.300 / 2
    assert result["2024-01-05"]["pct_chg"] == 3.0303  # the holder's return, not the split's halving


@pytest.mark.parametrize("adjust", ["qfq", "hfq"])
def test_adjusted_pre_close_is_the_previous_adjusted_close(client, adjust):
    make_history()
    result = list(rows(client, adjust=adjust).values())
    for previous, bar in zip(result, result[1:], strict=False):
        assert bar["pre_close"] == previous["close"]
        assert bar["change"] == pytest.approx(bar["close"] - previous["close"], abs=1e-9)


def test_qfq_figures_after_the_last_action_are_the_raw_ones(client):
    make_history()
    raw, qfq = rows(client)["2024-01-08"], rows(client, adjust="qfq")["2024-01-08"]
    assert [qfq[k] for k in ("pre_close", "change", "pct_chg")] == [raw[k] for k in ("pre_close", "change", "pct_chg")]


def test_a_page_from_a_start_date_knows_the_close_before_it(client):
    make_history()
    assert rows(client, start="2024-01-03")["2024-01-03"]["pre_close"] == 3.5


def test_raw_bars_have_factor_one_and_offset_zero(client):
    make_history()
    assert {(r["adj_factor"], r["adj_offset"]) for r in rows(client).values()} == {(1.0, 0.0)}


@pytest.mark.parametrize("adjust", ["qfq", "hfq"])
def test_factor_and_offset_reproduce_the_adjusted_prices(client, adjust):
    make_history()
    raw, adjusted = rows(client), rows(client, adjust=adjust)
    for day, bar in adjusted.items():
        rebuilt = raw[day]["close"] * bar["adj_factor"] + bar["adj_offset"]
        assert round(rebuilt + 1e-9, 3) == bar["close"]


def test_after_splits_only_price_times_factor_is_the_adjusted_price(client):
    instrument = InstrumentFactory(code="510300")
    make_bars(instrument, DAYS, CLOSES)
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 5), split_ratio=D("2"))
    result = rows(client, adjust="qfq")
    assert result["2024-01-02"]["adj_factor"] == 0.5
    assert result["2024-01-02"]["adj_offset"] == 0.0
    assert result["2024-01-02"]["close"] == 1.75


def test_weekly_pre_close_is_the_previous_week_close(client):
    make_history()
    make_bars(InstrumentFactory(code="510500"), DAYS, CLOSES)
    weeks = client.get(URL.format("510500.SH"), {"interval": "1w"}).json()["results"]
    assert [(w["date"], w["pre_close"]) for w in weeks] == [("2024-01-05", None), ("2024-01-08", 1.7)]


def test_stock_pct_chg_uses_two_decimal_prices(client):
    stock = StockFactory(code="600000")
    make_bars(stock, DAYS[:2], [D("7.10"), D("7.15")])
    bar = client.get(URL.format("600000.SH")).json()["results"][1]
    assert (bar["pre_close"], bar["change"], bar["pct_chg"]) == (7.1, 0.05, 0.7042)
