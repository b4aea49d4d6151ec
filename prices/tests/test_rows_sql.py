"""On PostgreSQL/TimescaleDB daily rows can be computed by the database: they equal Python's, digit for digit."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest

from etfs.tests.factories import InstrumentFactory, StockFactory, make_bars
from prices.api.writers import csv_chunks, json_rows, lines_of
from prices.models import CorporateAction, DailyBar, trading_date_to_time
from prices.queries import Series, adjuster_for
from prices.rows import _python_rows, _sql_rows, default_columns, history_lines, history_rows

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

COLUMNS_1D = default_columns(with_symbol=False, interval="1d")

DAYS = [
    dt.date(2024, 1, 2) + dt.timedelta(days=n)
    for n in range(40)
    if (dt.date(2024, 1, 2) + dt.timedelta(days=n)).weekday() < 5
]


def python_rows(instrument, adjuster, start, end, limit):
    """The Python path (what SQLite and the cross-sections use), forced."""
    return _python_rows(Series(instrument, adjuster, start, end, "1d"), limit)


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
    assert as_text(_sql_rows(Series(instrument, adjuster, start), 1000)) == as_text(expected)
    assert as_text(history_rows(instrument, adjuster, start=start, end=None, interval="1d", limit=1000)) == as_text(
        expected
    )


@pytest.mark.parametrize("adjust", ["none", "qfq", "hfq"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "columns", [COLUMNS_1D, ("date", "close", "pct_chg"), ("symbol", "adj_factor", "adj_offset", "amount")]
)
def test_sql_lines_equal_what_the_writers_make_of_python_rows(adjust, fmt, columns):
    instrument = InstrumentFactory(code="510300")
    make_bars(instrument, DAYS, [D("3.000") + D(n * 37 % 101) / 1000 for n in range(len(DAYS))])
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 10), cash=D("0.0333"))
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 17), split_ratio=D("3"))
    DailyBar.objects.filter(instrument=instrument, time__gte=trading_date_to_time(dt.date(2024, 1, 30))).update(
        amount=None
    )
    adjuster = adjuster_for(instrument, adjust)
    rows = python_rows(instrument, adjuster, dt.date(2024, 1, 5), None, 1000)
    lines = history_lines(
        instrument, adjuster, start=dt.date(2024, 1, 5), end=None, interval="1d", limit=1000, columns=columns, fmt=fmt
    )
    if fmt == "json":
        assert json.loads("[" + ",".join(line for line, _ in lines) + "]") == json.loads(json_rows(rows, columns))
        assert "[" + ",".join(line for line, _ in lines) + "]" == json_rows(rows, columns)
    else:
        expected = b"".join(csv_chunks([rows], columns)).decode().splitlines()[1:]
        assert [line for line, _ in lines] == expected
        assert list(csv.reader(io.StringIO("\n".join(expected))))  # well-formed


# Suspended from 2024-01-09 to 2024-01-19, over a cash ex-date (01-10) and a 1:3 split (01-17).
SUSPENDED_DAYS = [d for d in DAYS if not dt.date(2024, 1, 9) <= d <= dt.date(2024, 1, 19)]


@pytest.fixture
def suspended_over_two_ex_dates():
    instrument = InstrumentFactory(code="510300")
    closes = [D("3.000") + D(n * 37 % 101) / 1000 for n in range(len(SUSPENDED_DAYS))]
    make_bars(instrument, SUSPENDED_DAYS, closes)
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 10), cash=D("0.0333"))
    CorporateAction.objects.create(instrument=instrument, ex_date=dt.date(2024, 1, 17), split_ratio=D("3"))
    return instrument


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_suspension_over_two_ex_dates_gives_the_same_lines(fmt, suspended_over_two_ex_dates):
    instrument = suspended_over_two_ex_dates
    adjuster = adjuster_for(instrument, "none")
    rows = python_rows(instrument, adjuster, None, None, 1000)
    lines = history_lines(
        instrument, adjuster, start=None, end=None, interval="1d", limit=1000, columns=COLUMNS_1D, fmt=fmt
    )
    assert [line for line, _ in lines] == lines_of(rows, COLUMNS_1D, fmt)


def test_sql_rows_after_a_suspension_over_two_ex_dates_equal_python_rows(suspended_over_two_ex_dates):
    instrument = suspended_over_two_ex_dates
    adjuster = adjuster_for(instrument, "none")
    rows = _sql_rows(Series(instrument, adjuster), 1000)
    assert as_text(rows) == as_text(python_rows(instrument, adjuster, None, None, 1000))
    before = D(rows[SUSPENDED_DAYS.index(dt.date(2024, 1, 8))][6])  # the last close before both ex-dates
    reference = ((before - D("0.0333")) / 3).quantize(D("0.001"), ROUND_HALF_UP)
    assert rows[SUSPENDED_DAYS.index(dt.date(2024, 1, 22))][7] == reference  # pre_close: both actions taken out
