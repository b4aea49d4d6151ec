"""Timescale-only behaviour: the bar table is a hypertable with our chunk interval."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from prices.models import DailyBar

pytestmark = [pytest.mark.timescale, pytest.mark.django_db]


def test_daily_bar_table_is_a_hypertable():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            [DailyBar._meta.db_table],
        )
        assert cursor.fetchall() == [(DailyBar._meta.db_table,)]


def test_daily_bar_chunk_interval_is_one_year():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = %s AND column_name = 'time'",
            [DailyBar._meta.db_table],
        )
        (interval,) = cursor.fetchone()
    assert interval == dt.timedelta(days=365)


def test_hypertable_keeps_unique_instrument_time_index():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, DailyBar._meta.db_table)
    assert any(c["unique"] and c["columns"] == ["instrument_id", "time"] for c in constraints.values())
