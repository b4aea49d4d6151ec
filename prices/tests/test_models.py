from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from etfs.models import Instrument
from etfs.tests.factories import DailyBarFactory, InstrumentFactory
from prices.models import DailyBar, time_to_trading_date, trading_date_to_time

pytestmark = pytest.mark.django_db


def test_bar_time_is_trading_date_at_shanghai_midnight():
    bar = DailyBarFactory(day=dt.date(2024, 1, 2))
    bar.refresh_from_db()
    assert bar.trading_date == dt.date(2024, 1, 2)
    assert bar.time == dt.datetime(2024, 1, 1, 16, 0, tzinfo=dt.UTC)


def test_trading_date_round_trips_through_utc():
    day = dt.date(2023, 12, 29)
    assert time_to_trading_date(trading_date_to_time(day).astimezone(dt.UTC)) == day


def test_prices_keep_exact_decimals():
    bar = DailyBarFactory(close=Decimal("3.987"))
    bar.refresh_from_db()
    assert bar.close == Decimal("3.987")


def test_one_bar_per_instrument_and_day():
    bar = DailyBarFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        DailyBarFactory(instrument=bar.instrument, time=bar.time)


def test_high_below_low_is_rejected_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        DailyBarFactory(high=Decimal("1.000"), low=Decimal("2.000"))


def test_negative_volume_is_rejected_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        DailyBarFactory(volume=-1)


def test_bulk_upsert_on_instrument_and_time_updates_in_place():
    instrument = InstrumentFactory()
    first = DailyBarFactory.build(instrument=instrument, close=Decimal("3.480"))
    DailyBar.objects.bulk_create([first])
    revised = DailyBarFactory.build(instrument=instrument, close=Decimal("3.490"), volume=1)
    DailyBar.objects.bulk_create(
        [revised],
        update_conflicts=True,
        unique_fields=["instrument", "time"],
        update_fields=["open", "high", "low", "close", "volume", "amount"],
    )
    assert DailyBar.objects.count() == 1
    stored = DailyBar.objects.get()
    assert (stored.close, stored.volume) == (Decimal("3.490"), 1)


def test_between_filters_by_trading_date_inclusive():
    instrument = InstrumentFactory()
    for day in (dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)):
        DailyBarFactory(instrument=instrument, day=day)
    days = [b.trading_date for b in DailyBar.objects.between(dt.date(2024, 1, 3), dt.date(2024, 1, 4))]
    assert days == [dt.date(2024, 1, 3), dt.date(2024, 1, 4)]


def _unique_index_columns(table: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [c["columns"] for c in constraints.values() if c["unique"] and not c["primary_key"]]


@pytest.mark.postgres
def test_bar_table_is_a_plain_table_with_unique_instrument_time_on_postgres(is_timescale):
    if is_timescale:
        pytest.skip("the timescale tier checks the hypertable instead")
    assert ["instrument_id", "time"] in _unique_index_columns(DailyBar._meta.db_table)


def test_bar_table_has_unique_instrument_time_on_sqlite(db_vendor):
    if db_vendor != "sqlite":
        pytest.skip("checked per backend in the postgres and timescale tests")
    assert ["instrument_id", "time"] in _unique_index_columns(DailyBar._meta.db_table)


# --- the instrument a bar belongs to (set-based, without a per-row foreign key) ----------------
def test_deleting_an_instrument_with_bars_is_refused_by_django():
    bar = DailyBarFactory()

    with pytest.raises(ProtectedError):
        bar.instrument.delete()


@pytest.mark.postgres
def test_deleting_an_instrument_with_bars_is_refused_by_the_database():
    bar = DailyBarFactory()

    with pytest.raises(IntegrityError, match="still has daily bars"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM etfs_instrument WHERE id = %s", [bar.instrument_id])


@pytest.mark.postgres
def test_renumbering_an_instrument_with_bars_is_refused_by_the_database():
    bar = DailyBarFactory()

    with pytest.raises(IntegrityError, match="still has daily bars"), connection.cursor() as cursor:
        cursor.execute("UPDATE etfs_instrument SET id = id + 100000 WHERE id = %s", [bar.instrument_id])


@pytest.mark.postgres
def test_an_instrument_without_bars_can_still_be_deleted_by_the_database():
    instrument = InstrumentFactory()

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM etfs_instrument WHERE id = %s", [instrument.pk])

    assert not Instrument.objects.filter(pk=instrument.pk).exists()


@pytest.mark.postgres
def test_bar_table_has_no_per_row_foreign_key_and_no_extra_instrument_index():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, DailyBar._meta.db_table)

    assert not [name for name, c in constraints.items() if c["foreign_key"]]
    by_instrument = [c for c in constraints.values() if (c["index"] or c["unique"]) and not c["foreign_key"]]
    assert [c["columns"] for c in by_instrument if c["columns"][:1] == ["instrument_id"]] == [["instrument_id", "time"]]
