"""On PostgreSQL/TimescaleDB daily rows can be computed by the database: they equal Python's, digit for digit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from etfs.tests.factories import InstrumentFactory, StockFactory, make_bars
from prices.models import CorporateAction
from prices.queries import adjuster_for
from prices.rows import _daily_rows_postgres, history_rows

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

DAYS = [
    dt.date(2024, 1, 2) + dt.timedelta(days=n)
    for n in range(40)
    if (dt.date(2024, 1, 2) + dt.timedelta(days=n)).weekday() < 5
]


def python_rows(instrument, adjuster, start, end, limit):
    """The Python path (what SQLite and the cross-sections use), forced."""
    from prices.queries import fetch_bars, previous_close
    from prices.rows import RowMaker

    bars = fetch_bars(instrument, adjuster, start=start, end=end, interval="1d", limit=limit)
    previous = previous_close(instrument.pk, bars[0].period_start) if start is not None and bars else None
    return list(RowMaker(instrument.symbol, adjuster).rows(bars, previous))


def as_text(rows):
    return [tuple(None if v is None else str(v) for v in row) for row in rows]


@pytest.mark.parametrize("adjust", ["none", "qfq", "hfq"])
@pytest.mark.parametrize("start", [None, dt.date(2024, 1, 10), dt.date(2024, 1, 17)])
@pytest.mark.parametrize("factory", [InstrumentFactory, StockFactory])
def test_sql_rows_equal_python_rows(adjust, start, factory):
    instrument = factory(code="510300" if factory is InstrumentFactory else "600000")
    closes = [D("3.000") + D(n * 37 % 101) / 1000 for n in range(len(DAYS))]
    make_bars(instrument, DAYS, closes)
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 10), cash=D("0.0333"))
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 17), split_ratio=D("3"))
    CorporateAction.objects.create(
        instrument=instrument, ex_date=dt.date(2024, 1, 27), cash=D("0.0125"), split_ratio=D("1.3")
    )
    adjuster = adjuster_for(instrument, adjust)
    expected = python_rows(instrument, adjuster, start, None, 1000)
    assert as_text(_daily_rows_postgres(instrument, adjuster, start, None, 1000)) == as_text(expected)
    assert as_text(history_rows(instrument, adjuster, start=start, end=None, interval="1d", limit=1000)) == as_text(
        expected
    )
