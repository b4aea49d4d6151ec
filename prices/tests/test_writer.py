"""Batched upserts: inserted, updated and unchanged rows counted exactly on every backend."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError

from etfs.providers.base import BarRecord
from etfs.tests.factories import DailyBarFactory, InstrumentFactory
from prices import writer as writer_module
from prices.models import DailyBar, time_to_trading_date
from prices.writer import BarWriter, WriteCounts, plain_copy_text

pytestmark = pytest.mark.django_db


def bar(day: dt.date, close: str = "3.480", volume: int = 123456700, amount: str = "430123456.00") -> BarRecord:
    return BarRecord(
        day=day,
        open=Decimal("3.500"),
        high=Decimal("3.520"),
        low=Decimal("3.470"),
        close=Decimal(close),
        volume=volume,
        amount=Decimal(amount),
    )


def test_new_bars_are_inserted_with_trading_dates_in_shanghai():
    instrument = InstrumentFactory()

    counts = BarWriter().upsert([(instrument.pk, bar(dt.date(2024, 1, 2))), (instrument.pk, bar(dt.date(2024, 1, 3)))])

    assert counts == WriteCounts(inserted=2)
    assert [time_to_trading_date(t) for t in DailyBar.objects.values_list("time", flat=True)] == [
        dt.date(2024, 1, 2),
        dt.date(2024, 1, 3),
    ]


def test_identical_bars_count_as_unchanged():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 2))

    counts = BarWriter().upsert([(instrument.pk, bar(dt.date(2024, 1, 2)))])

    assert counts == WriteCounts(unchanged=1)


def test_changed_bar_is_updated_in_place():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 2))

    counts = BarWriter().upsert([(instrument.pk, bar(dt.date(2024, 1, 2), volume=5))])

    assert counts == WriteCounts(updated=1)
    assert list(DailyBar.objects.values_list("volume", flat=True)) == [5]


def test_values_are_compared_at_the_stored_precision():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 2))

    counts = BarWriter().upsert([(instrument.pk, bar(dt.date(2024, 1, 2), close="3.48000", amount="430123456.001"))])

    assert counts == WriteCounts(unchanged=1)


def test_duplicate_rows_in_one_call_are_written_once():
    instrument = InstrumentFactory()

    counts = BarWriter().upsert(
        [(instrument.pk, bar(dt.date(2024, 1, 2))), (instrument.pk, bar(dt.date(2024, 1, 2), "3.5"))]
    )

    assert counts == WriteCounts(inserted=1)
    assert list(DailyBar.objects.values_list("close", flat=True)) == [Decimal("3.500")]


def test_small_batches_split_the_write_and_add_up():
    first, second = InstrumentFactory(), InstrumentFactory()
    DailyBarFactory(instrument=first, day=dt.date(2024, 1, 2))
    rows = [(first.pk, bar(dt.date(2024, 1, 2))), (first.pk, bar(dt.date(2024, 1, 3)))]
    rows += [(second.pk, bar(dt.date(2024, 1, d), volume=d)) for d in (2, 3, 4)]

    counts = BarWriter(batch_size=2).upsert(rows)

    assert counts == WriteCounts(inserted=4, unchanged=1)
    assert DailyBar.objects.count() == 5


@pytest.mark.postgres
def test_refresh_statistics_runs_only_after_a_large_write_on_postgres(monkeypatch):
    writer = writer_module.BarWriter()
    assert writer.refresh_statistics(10) is False
    monkeypatch.setattr(writer_module, "LARGE_WRITE_ROWS", 5)
    # Inside the test's transaction VACUUM is impossible; ANALYZE still refreshes statistics.
    assert writer.refresh_statistics(10) is True


def test_refresh_statistics_is_a_no_op_on_sqlite(db_vendor):
    if db_vendor != "sqlite":
        pytest.skip("the postgres variant covers PostgreSQL")
    assert BarWriter().refresh_statistics(10**9) is False


def test_unknown_amount_is_stored_empty_and_later_filled_in():
    instrument = InstrumentFactory()
    day = dt.date(2024, 1, 2)
    unknown = BarRecord(day, Decimal("3.5"), Decimal("3.52"), Decimal("3.47"), Decimal("3.48"), 1000, None)

    assert BarWriter().upsert([(instrument.pk, unknown)]) == WriteCounts(inserted=1)
    assert DailyBar.objects.get().amount is None
    assert BarWriter().upsert([(instrument.pk, unknown)]) == WriteCounts(unchanged=1)
    assert BarWriter().upsert([(instrument.pk, bar(day, close="3.480", volume=1000))]) == WriteCounts(updated=1)
    assert DailyBar.objects.get().amount == Decimal("430123456.00")


def test_unknown_amount_goes_through_the_backfill_copy_path():
    instrument = InstrumentFactory()
    unknown = BarRecord(dt.date(2024, 1, 2), Decimal("3.5"), Decimal("3.52"), Decimal("3.47"), Decimal("3.48"), 1, None)

    assert BarWriter().insert_new([(instrument.pk, unknown)]) == WriteCounts(inserted=1)
    assert DailyBar.objects.get().amount is None


# --- the instrument of every written bar exists (checked once per instrument) -------------------
def test_upsert_refuses_bars_of_a_missing_instrument_and_writes_none_of_the_batch():
    instrument = InstrumentFactory()
    missing = instrument.pk + 1000

    with pytest.raises(IntegrityError, match=f"no instrument with id {missing}"):
        BarWriter().upsert([(instrument.pk, bar(dt.date(2024, 1, 2))), (missing, bar(dt.date(2024, 1, 2)))])

    assert not DailyBar.objects.exists()


def test_insert_new_refuses_bars_of_a_missing_instrument():
    instrument = InstrumentFactory()
    missing = instrument.pk + 1000

    with pytest.raises(IntegrityError, match=f"no instrument with id {missing}"):
        BarWriter().insert_new([(missing, bar(dt.date(2024, 1, 2)))])

    assert not DailyBar.objects.exists()


def test_insert_new_writes_plain_copy_text_without_making_records():
    instrument = InstrumentFactory()
    row = ("2024-01-02", "3.500", "3.520", "3.470", "3.480", "123456700", "430123456.00")

    def no_records():
        raise AssertionError("records were made")

    writer = BarWriter()
    if not writer.can_copy:
        pytest.skip("COPY needs a native PostgreSQL server")
    counts = writer.insert_new(
        no_records, plain_copy_text(instrument.pk, [row]), count=1, instrument_ids={instrument.pk}
    )

    assert counts == WriteCounts(inserted=1)
    assert DailyBar.objects.values_list("close", "volume", "amount").get() == (
        Decimal("3.480"),
        123456700,
        Decimal("430123456.00"),
    )


def test_insert_new_of_a_bar_already_stored_merges_instead_of_failing():
    """COPY raises psycopg2's UniqueViolation through the raw cursor: it must take the merge path."""
    instrument = InstrumentFactory()
    day = dt.date(2024, 1, 2)
    BarWriter().upsert([(instrument.pk, bar(day))])

    counts = BarWriter().insert_new(
        [(instrument.pk, bar(day, close="3.490")), (instrument.pk, bar(dt.date(2024, 1, 3)))]
    )

    assert counts == WriteCounts(inserted=1, updated=1)
    assert DailyBar.objects.count() == 2
