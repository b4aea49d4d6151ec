"""``/api/bars/latest/``: the latest bar of every instrument matching the instrument filters."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.cache import caches
from django.utils import timezone

from etfs.models import Instrument
from etfs.tests.factories import DailyBarFactory, InstrumentFactory, StockFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

URL = "/api/bars/latest/"


def make_screen():
    """Two ETFs (one quiet since 4 January), one stock, and one ETF without bars."""
    busy = InstrumentFactory(code="510300", name="沪深300ETF")
    quiet = InstrumentFactory(code="159919", exchange="SZ", name="嘉实300ETF")
    stock = StockFactory(code="600000", name="浦发银行")
    InstrumentFactory(code="588000", name="科创50ETF")
    for day, close in [(dt.date(2024, 1, 3), "3.510"), (dt.date(2024, 1, 4), "3.520"), (dt.date(2024, 1, 5), "3.530")]:
        DailyBarFactory(instrument=busy, day=day, close=D(close))
    for day, close in [(dt.date(2024, 1, 3), "3.610"), (dt.date(2024, 1, 4), "3.620")]:
        DailyBarFactory(instrument=quiet, day=day, close=D(close))
    DailyBarFactory(
        instrument=stock,
        day=dt.date(2024, 1, 5),
        open=D("7.10"),
        high=D("7.20"),
        low=D("7.00"),
        close=D("7.15"),
        volume=5000,
        amount=D("35750.00"),
    )


def test_latest_bar_of_each_instrument_with_bars(client):
    make_screen()
    body = client.get(URL).json()
    assert [(r["symbol"], r["date"], r["close"]) for r in body] == [
        ("159919.SZ", "2024-01-04", 3.62),
        ("510300.SH", "2024-01-05", 3.53),
        ("600000.SH", "2024-01-05", 7.15),
    ]


def test_latest_bar_carries_the_whole_bar(client):
    make_screen()
    (row,) = client.get(URL, {"search": "浦发"}).json()
    assert row == {
        "symbol": "600000.SH",
        "name": "浦发银行",
        "date": "2024-01-05",
        "open": 7.1,
        "high": 7.2,
        "low": 7.0,
        "close": 7.15,
        "volume": 5000,
        "amount": 35750.0,
    }


def test_latest_bars_take_the_instrument_filters(client):
    make_screen()
    assert [r["symbol"] for r in client.get(URL, {"is_etf": "true", "exchange": "SH"}).json()] == ["510300.SH"]


def test_latest_bars_take_three_queries_whatever_the_number_of_instruments(client, django_assert_num_queries):
    make_screen()
    for n in range(5):
        DailyBarFactory(instrument=InstrumentFactory(code=f"51200{n}"), day=dt.date(2024, 1, 5))
    with django_assert_num_queries(3):  # the data version, the last bar times, the bars
        body = client.get(URL).json()
    assert len(body) == 8


@pytest.fixture
def screen_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "screens": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-screens"},
    }
    yield
    caches["screens"].clear()


def test_a_repeated_screen_is_served_from_the_cache_in_one_query(client, screen_cache, django_assert_num_queries):
    make_screen()
    first = client.get(URL).json()
    with django_assert_num_queries(1):  # the data version only
        assert client.get(URL).json() == first


def test_a_sync_heartbeat_invalidates_the_cached_screen(client, screen_cache):
    make_screen()
    before = client.get(URL).json()
    instrument = Instrument.objects.get(symbol="510300.SH")
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 8), close=D("9.000"), high=D("9.100"))
    SyncRunFactory(heartbeat_at=timezone.now() + dt.timedelta(seconds=1))
    after = {r["symbol"]: r for r in client.get(URL).json()}
    assert before != list(after.values())
    assert (after["510300.SH"]["date"], after["510300.SH"]["close"]) == ("2024-01-08", 9.0)


def test_latest_bars_as_csv(client):
    make_screen()
    response = client.get(URL, {"format": "csv", "is_etf": "false"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {
            "symbol": "600000.SH",
            "name": "浦发银行",
            "date": "2024-01-05",
            "open": "7.10",
            "high": "7.20",
            "low": "7.00",
            "close": "7.15",
            "volume": "5000",
            "amount": "35750.00",
        }
    ]


def test_latest_bars_of_no_instrument_is_an_empty_list(client):
    assert client.get(URL, {"exchange": "BJ"}).json() == []


def test_latest_bars_reject_an_unknown_exchange(client):
    response = client.get(URL, {"exchange": "NY"})
    assert response.status_code == 400
    assert "exchange" in response.json()
