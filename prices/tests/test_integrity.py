"""Bars stored invalid by earlier versions: served without a 500, found, held, decided."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from etfs.tests.factories import DailyBarFactory, InstrumentFactory
from prices import quarantine
from prices.integrity import hold_invalid_bars
from prices.models import BarRevision, CorporateAction, DailyBar, QuarantinedBar, trading_date_to_time

pytestmark = pytest.mark.django_db

DAY = dt.date(2024, 1, 3)


@pytest.fixture(autouse=True)
def _no_cached_screens():
    caches["screens"].clear()


def store_nan_close(instrument) -> None:
    """What a version without validation stored (PostgreSQL's numeric keeps NaN)."""
    DailyBarFactory(instrument=instrument, day=DAY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DailyBar._meta.db_table} SET close = 'NaN'::numeric WHERE instrument_id = %s", [instrument.pk]
        )


def test_close_above_high_is_held_once():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY, close=Decimal("3.600"))

    assert hold_invalid_bars(DailyBar, QuarantinedBar) == 1
    assert hold_invalid_bars(DailyBar, QuarantinedBar) == 0
    held = QuarantinedBar.objects.get()
    assert (held.kind, held.day, held.old["close"], held.new) == ("stored", DAY, "3.600", None)
    assert "between low and high" in held.reason


def test_valid_bars_are_not_held():
    DailyBarFactory(day=DAY)

    assert hold_invalid_bars(DailyBar, QuarantinedBar) == 0


def test_accepting_an_invalid_stored_bar_removes_it_and_logs_the_old_values():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY, close=Decimal("3.600"))
    hold_invalid_bars(DailyBar, QuarantinedBar)

    quarantine.accept(QuarantinedBar.objects.get(), "curator")

    assert not DailyBar.objects.exists()
    revision = BarRevision.objects.get()
    assert (revision.old["close"], revision.new) == ("3.600", None)


def test_check_bars_exits_1_naming_the_instrument():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY, close=Decimal("3.600"))
    out = io.StringIO()

    with pytest.raises(CommandError) as error:
        call_command("check_bars", stdout=out)

    assert error.value.returncode == 1
    assert instrument.symbol in out.getvalue()


def test_check_bars_passes_on_valid_data():
    DailyBarFactory(day=DAY)

    call_command("check_bars", stdout=io.StringIO())


@pytest.mark.postgres
def test_stored_nan_is_served_as_null_without_a_500(client):
    instrument = InstrumentFactory()
    store_nan_close(instrument)

    latest = client.get("/api/bars/latest/")
    bars = client.get(f"/api/instruments/{instrument.symbol}/bars/?adjust=qfq")
    weekly = client.get(f"/api/instruments/{instrument.symbol}/bars/?interval=1w")
    csv = client.get(f"/api/instruments/{instrument.symbol}/bars/?format=csv")

    assert [r.status_code for r in (latest, bars, weekly, csv)] == [200, 200, 200, 200]
    assert latest.json()[0]["close"] is None
    assert bars.json()["results"][0]["close"] is None


@pytest.mark.postgres
def test_stored_nan_is_found_and_held():
    instrument = InstrumentFactory()
    store_nan_close(instrument)

    assert hold_invalid_bars(DailyBar, QuarantinedBar) == 1
    assert "close is not a finite number" in QuarantinedBar.objects.get().reason


@pytest.mark.postgres
def test_admin_pages_of_an_instrument_with_a_stored_nan_answer(admin_client):
    instrument = InstrumentFactory()
    store_nan_close(instrument)

    pages = [
        f"/admin/etfs/instrument/{instrument.pk}/change/",
        "/admin/prices/dailybar/",
        "/admin/prices/quarantinedbar/",
        "/",
    ]
    hold_invalid_bars(DailyBar, QuarantinedBar)

    assert [admin_client.get(page).status_code for page in pages] == [200, 200, 200, 200]


@pytest.mark.postgres
def test_a_stored_nan_high_in_a_week_with_an_ex_day_is_served_as_null(client):
    """The week's rows before and after the ex-day are adjusted apart, then merged: an unknown
    high on either side makes the week's high unknown (it was a TypeError, a 500)."""
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 2))
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 3))
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 3), cash=Decimal("0.100"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DailyBar._meta.db_table} SET high = 'NaN'::numeric WHERE instrument_id = %s AND time = %s",
            [instrument.pk, trading_date_to_time(dt.date(2024, 1, 2))],
        )

    weekly = client.get(f"/api/instruments/{instrument.symbol}/bars/?interval=1w&adjust=qfq")

    assert weekly.status_code == 200
    [week] = weekly.json()["results"]
    assert week["high"] is None
    assert week["low"] is not None
