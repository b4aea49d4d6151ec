"""Timescale-only: NAV, shares and closing-quote tables are hypertables with one-year chunks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from prices.models import FundNav, FundQuote, FundShares

pytestmark = [pytest.mark.timescale, pytest.mark.django_db]

TABLES = [model._meta.db_table for model in (FundNav, FundShares, FundQuote)]


@pytest.mark.parametrize("table", TABLES)
def test_fund_table_is_a_hypertable_with_one_year_chunks(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = %s AND column_name = 'time'",
            [table],
        )
        assert cursor.fetchall() == [(dt.timedelta(days=365),)]


@pytest.mark.parametrize("table", TABLES)
def test_fund_table_keeps_its_unique_instrument_time_index(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert any(c["unique"] and c["columns"] == ["instrument_id", "time"] for c in constraints.values())
