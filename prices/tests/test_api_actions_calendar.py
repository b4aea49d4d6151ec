"""``/api/instruments/{symbol}/actions/`` and ``/api/calendar/``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from etfs import calendar
from etfs.tests.factories import InstrumentFactory
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db


def test_actions_list_ex_dates_oldest_first_with_their_source(client):
    instrument = InstrumentFactory(code="510300")
    CorporateAction.objects.create(
        instrument=instrument,
        ex_date=dt.date(2024, 6, 3),
        split_ratio=D("1.110680861"),
        source=CorporateAction.Source.PROVIDER,
    )
    CorporateAction.objects.create(
        instrument=instrument, ex_date=dt.date(2023, 1, 16), cash=D("0.0550"), source=CorporateAction.Source.MANUAL
    )
    response = client.get("/api/instruments/sh.510300/actions/")
    assert response.status_code == 200
    assert response.json() == [
        {"ex_date": "2023-01-16", "cash": 0.055, "split_ratio": 1.0, "source": "manual"},
        {"ex_date": "2024-06-03", "cash": 0.0, "split_ratio": 1.110680861, "source": "provider"},
    ]


def test_actions_of_an_instrument_without_any_are_an_empty_list(client):
    InstrumentFactory(code="510300")
    assert client.get("/api/instruments/510300.XSHG/actions/").json() == []


def test_actions_of_an_unknown_instrument_are_404(client):
    assert client.get("/api/instruments/510999.SH/actions/").status_code == 404


def test_calendar_lists_the_trading_days_of_the_range(client):
    response = client.get("/api/calendar/", {"start": "20240201", "end": "2024-02-29"})
    assert response.status_code == 200
    body = response.json()
    expected = [d.isoformat() for d in calendar.trading_days(dt.date(2024, 2, 1), dt.date(2024, 2, 29))]
    assert body["trading_days"] == expected
    assert body["count"] == len(expected)
    assert "2024-02-12" not in body["trading_days"]  # Spring Festival
    assert body["trading_days"][0] == "2024-02-01"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2024-01-01"}, "end"),
        ({"end": "2024-01-01"}, "start"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "start"),
        ({"start": "2024-02-30", "end": "2024-03-01"}, "start"),
    ],
)
def test_calendar_refuses_bad_ranges(client, params, field):
    response = client.get("/api/calendar/", params)
    assert response.status_code == 400
    assert field in response.json()
