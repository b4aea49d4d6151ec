"""``/api/instruments/{symbol}/bars/``: daily, weekly and monthly bars, qfq/hfq, JSON pages, CSV streams."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import prices.api.views
from etfs.tests.factories import DailyBarFactory, InstrumentFactory, StockFactory
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db

URL = "/api/instruments/{}/bars/"

# (date, open, high, low, close, volume, amount): ten trading days around the 2024 new year.
ROWS = [
    ("2024-01-02", "3.500", "3.520", "3.470", "3.480", 1000, "3480.00"),
    ("2024-01-03", "3.480", "3.550", "3.460", "3.540", 2000, "7080.00"),
    ("2024-01-04", "3.540", "3.600", "3.500", "3.510", 1500, "5265.00"),
    ("2024-01-05", "3.510", "3.530", "3.400", "3.420", 3000, "10260.00"),
    ("2024-01-08", "3.420", "3.450", "3.410", "3.440", 1000, "3440.00"),
    ("2024-01-09", "3.440", "3.700", "3.430", "3.650", 4000, "14600.00"),
    ("2024-01-10", "3.650", "3.660", "3.600", "3.610", 2500, "9025.00"),
    ("2024-01-31", "3.610", "3.615", "3.590", "3.600", 500, "1800.00"),
    ("2024-02-01", "3.600", "3.620", "3.580", "3.590", 1200, "4308.00"),
    ("2024-02-02", "3.590", "3.640", "3.550", "3.630", 800, "2904.00"),
]


def bar(date, open_, high, low, close, volume, amount):
    """The JSON form of a bar: prices and amounts are numbers."""
    return {
        "date": date,
        "open": float(open_),
        "high": float(high),
        "low": float(low),
        "close": float(close),
        "volume": volume,
        "amount": float(amount),
    }


def make_instrument_with_bars(code="510300", rows=ROWS, factory=InstrumentFactory):
    instrument = factory(code=code)
    for date, open_, high, low, close, volume, amount in rows:
        DailyBarFactory(
            instrument=instrument,
            day=dt.date.fromisoformat(date),
            open=D(open_),
            high=D(high),
            low=D(low),
            close=D(close),
            volume=volume,
            amount=D(amount),
        )
    return instrument


def add_dividend(instrument, ex_date="2024-01-09", cash="0.100", split_ratio="1"):
    CorporateAction.objects.create(
        instrument=instrument, ex_date=dt.date.fromisoformat(ex_date), cash=D(cash), split_ratio=D(split_ratio)
    )


BAR_KEYS = ("date", "open", "high", "low", "close", "volume", "amount")


def get_results(client, path, **params):
    """The answer's bars, reduced to the OHLCV columns ``bar()`` builds (others are tested on their own)."""
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return [{key: row[key] for key in BAR_KEYS} for row in response.json()["results"]]


def test_daily_bars_are_raw_by_default(client):
    make_instrument_with_bars()
    results = get_results(client, URL.format("510300.SH"))
    assert len(results) == 10
    assert results[0] == bar(*ROWS[0])
    assert results[-1] == bar(*ROWS[-1])


def test_every_symbol_form_reaches_the_same_bars(client):
    make_instrument_with_bars()
    for form in ("510300.SH", "sh510300", "SH510300", "1.510300", "510300"):
        assert get_results(client, URL.format(form), end="2024-01-02") == [bar(*ROWS[0])]


def test_start_and_end_are_inclusive(client):
    make_instrument_with_bars()
    results = get_results(client, URL.format("510300.SH"), start="2024-01-05", end="2024-01-09")
    assert [r["date"] for r in results] == ["2024-01-05", "2024-01-08", "2024-01-09"]


def test_weekly_bars_aggregate_monday_to_sunday_dated_by_last_trading_date(client):
    make_instrument_with_bars()
    results = get_results(client, URL.format("510300.SH"), interval="1w")
    assert results == [
        bar("2024-01-05", "3.500", "3.600", "3.400", "3.420", 7500, "26085.00"),
        bar("2024-01-10", "3.420", "3.700", "3.410", "3.610", 7500, "27065.00"),
        # the week of Monday 29 January spans two months
        bar("2024-02-02", "3.610", "3.640", "3.550", "3.630", 2500, "9012.00"),
    ]


def test_weekly_bars_carry_the_first_trading_date_as_period_start(client):
    make_instrument_with_bars()
    body = client.get(URL.format("510300.SH"), {"interval": "1w"}).json()
    assert [(r["period_start"], r["date"]) for r in body["results"]] == [
        ("2024-01-02", "2024-01-05"),
        ("2024-01-08", "2024-01-10"),
        ("2024-01-31", "2024-02-02"),
    ]


def test_daily_bars_have_no_period_start(client):
    make_instrument_with_bars()
    assert "period_start" not in client.get(URL.format("510300.SH")).json()["results"][0]


def test_monthly_bars_aggregate_calendar_months(client):
    make_instrument_with_bars()
    results = get_results(client, URL.format("510300.SH"), interval="1M")
    assert results == [
        bar("2024-01-31", "3.500", "3.700", "3.400", "3.600", 15500, "54950.00"),
        bar("2024-02-02", "3.600", "3.640", "3.550", "3.630", 2000, "7212.00"),
    ]


def test_qfq_subtracts_later_cash_and_divides_by_later_splits(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")
    add_dividend(instrument, "2024-02-01", cash="0", split_ratio="2")
    results = {r["date"]: r for r in get_results(client, URL.format("510300.SH"), adjust="qfq")}
    assert results["2024-01-02"]["close"] == 1.690  # (3.480 - 0.1) / 2
    assert results["2024-01-08"]["low"] == 1.655  # (3.410 - 0.1) / 2
    assert results["2024-01-10"]["close"] == 1.805  # 3.610 / 2
    assert results["2024-02-02"]["close"] == 3.630  # after every action: raw
    assert results["2024-01-02"]["volume"] == 1000  # volumes are never adjusted


def test_hfq_undoes_earlier_actions(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")
    add_dividend(instrument, "2024-02-01", cash="0", split_ratio="2")
    results = {r["date"]: r for r in get_results(client, URL.format("510300.SH"), adjust="hfq")}
    assert results["2024-01-08"]["close"] == 3.440  # before every action: raw
    assert results["2024-01-09"]["open"] == 3.540  # 3.440 + 0.1
    assert results["2024-02-02"]["close"] == 7.360  # 3.630 * 2 + 0.1


def test_weekly_qfq_aggregates_the_adjusted_days(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")  # a Tuesday: splits the week of 8 January
    results = get_results(client, URL.format("510300.SH"), interval="1w", adjust="qfq")
    assert results[:2] == [
        bar("2024-01-05", "3.400", "3.500", "3.300", "3.320", 7500, "26085.00"),
        bar("2024-01-10", "3.320", "3.700", "3.310", "3.610", 7500, "27065.00"),
    ]


def test_weekly_hfq_takes_the_high_of_the_adjusted_days(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")
    results = get_results(client, URL.format("510300.SH"), interval="1w", adjust="hfq")
    # Monday raw 3.45, Tuesday 3.70 + 0.1: the high is Tuesday's adjusted 3.80
    assert results[1] == bar("2024-01-10", "3.420", "3.800", "3.410", "3.710", 7500, "27065.00")


def test_stock_prices_are_rounded_to_two_decimals(client):
    instrument = make_instrument_with_bars("600000", ROWS[:2], factory=StockFactory)
    add_dividend(instrument, "2024-01-03", cash="0.125")
    results = get_results(client, URL.format("600000.SH"), adjust="qfq")
    assert results[0]["close"] == 3.36  # 3.480 - 0.125 = 3.355, half up


def test_json_pages_follow_the_cursor_to_the_end(client):
    make_instrument_with_bars()
    dates, url, pages = [], URL.format("510300.SH") + "?page_size=4", 0
    while url:
        body = client.get(url).json()
        dates += [r["date"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert dates == [row[0] for row in ROWS]


def test_weekly_pages_keep_buckets_whole_across_corporate_actions(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")
    first = client.get(URL.format("510300.SH"), {"interval": "1w", "adjust": "qfq", "page_size": 1}).json()
    second = client.get(first["next"]).json()
    assert [{k: r[k] for k in BAR_KEYS} for r in second["results"]] == [
        bar("2024-01-10", "3.320", "3.700", "3.310", "3.610", 7500, "27065.00")
    ]


def test_last_page_has_no_next_link(client):
    make_instrument_with_bars()
    body = client.get(URL.format("510300.SH"), {"page_size": 10}).json()
    assert body["next"] is None


def test_daily_json_takes_two_queries(client, django_assert_num_queries):
    make_instrument_with_bars()
    # the instrument with its corporate actions (a raw pre_close needs them), one page of bars
    with django_assert_num_queries(2):
        results = get_results(client, URL.format("510300.SH"))
    assert len(results) == len(ROWS)


def test_daily_json_from_a_start_date_adds_at_most_one_probe_for_the_previous_close(
    client, django_assert_max_num_queries
):
    make_instrument_with_bars()
    with django_assert_max_num_queries(3):
        results = get_results(client, URL.format("510300.SH"), start="2024-01-05")
    assert [r["date"] for r in results][:1] == ["2024-01-05"]


def test_adjusted_weekly_json_takes_two_queries(client, django_assert_max_num_queries, is_timescale):
    make_instrument_with_bars()
    # The instrument with its corporate actions, the aggregate; TimescaleDB tries its continuous
    # aggregate first, and these bars, written after its last refresh, are not in it yet.
    with django_assert_max_num_queries(3 if is_timescale else 2):
        results = get_results(client, URL.format("510300.SH"), interval="1w", adjust="qfq")
    assert len(results) == 3  # the weeks of 2 and 8 January, and the one of 31 January


def read_csv(response):
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_streams_every_bar_with_exact_decimals(client):
    make_instrument_with_bars()
    response = client.get(URL.format("510300.SH"), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert len(rows) == 10
    assert {k: rows[0][k] for k in BAR_KEYS} == {
        "date": "2024-01-02",
        "open": "3.500",
        "high": "3.520",
        "low": "3.470",
        "close": "3.480",
        "volume": "1000",
        "amount": "3480.00",
    }


def test_csv_is_fetched_in_batches_without_losing_or_repeating_bars(client, monkeypatch):
    make_instrument_with_bars()
    monkeypatch.setattr(prices.api.views, "BATCH_SIZE", 3)
    rows = read_csv(client.get(URL.format("510300.SH"), {"format": "csv"}))
    assert [r["date"] for r in rows] == [row[0] for row in ROWS]


def test_csv_reads_one_batch_per_query(client, monkeypatch, django_assert_num_queries):
    make_instrument_with_bars()
    monkeypatch.setattr(prices.api.views, "BATCH_SIZE", 3)
    with django_assert_num_queries(5):  # the instrument with its actions, then 10 bars as 3 + 3 + 3 + 1
        rows = read_csv(client.get(URL.format("510300.SH"), {"format": "csv"}))
    assert len(rows) == 10


def test_csv_weekly_qfq_matches_json(client):
    instrument = make_instrument_with_bars()
    add_dividend(instrument, "2024-01-09", cash="0.100")
    rows = read_csv(client.get(URL.format("510300.SH"), {"format": "csv", "interval": "1w", "adjust": "qfq"}))
    assert [(r["date"], r["open"], r["high"], r["low"], r["close"]) for r in rows[:2]] == [
        ("2024-01-05", "3.400", "3.500", "3.300", "3.320"),
        ("2024-01-10", "3.320", "3.700", "3.310", "3.610"),
    ]


def test_csv_of_an_empty_range_is_just_the_header(client):
    make_instrument_with_bars()
    response = client.get(URL.format("510300.SH"), {"format": "csv", "start": "2025-01-01"})
    assert b"".join(response.streaming_content) == (
        b"date,open,high,low,close,pre_close,change,pct_chg,volume,amount,adj_factor,adj_offset\n"
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2024-13-01"}, "start"),
        ({"end": "2024/01/02"}, "end"),
        ({"end": "2024012"}, "end"),
        ({"fields": "date,closing"}, "fields"),
        ({"bom": "yes"}, "bom"),
        ({"as_of": "2024-01-02"}, "as_of"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "start"),
        ({"start": "0001-01-01"}, "start"),
        ({"interval": "2d"}, "interval"),
        ({"adjust": "xfq"}, "adjust"),
        ({"format": "xml"}, "format"),
        ({"page_size": "0"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(client, params, field):
    make_instrument_with_bars()
    response = client.get(URL.format("510300.SH"), params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()


def test_unknown_symbol_is_404_naming_it(client):
    response = client.get(URL.format("sh510999"))
    assert response.status_code == 404
    assert "510999.SH" in response.json()["detail"]


def test_unparseable_symbol_is_404_with_the_parse_message(client):
    response = client.get(URL.format("hello"))
    assert response.status_code == 404
    assert "'hello' is not an instrument symbol" in response.json()["detail"]


def test_csv_request_for_unknown_symbol_answers_json_404(client):
    response = client.get(URL.format("sh510999"), {"format": "csv"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@pytest.mark.timescale
def test_timescale_aggregates_with_time_bucket(client):
    make_instrument_with_bars()
    with CaptureQueriesContext(connection) as queries:
        results = get_results(client, URL.format("510300.SH"), interval="1M")
    assert [r["date"] for r in results] == ["2024-01-31", "2024-02-02"]
    assert any("time_bucket" in q["sql"] for q in queries.captured_queries)


def test_weekly_buckets_hold_under_the_daylight_saving_time_of_1991(client):
    # Shanghai kept DST from 1986 to 1991: local midnight was 15:00 UTC, not 16:00.
    rows = [
        ("1991-07-01", "3.000", "3.100", "2.900", "3.050", 100, "305.00"),
        ("1991-07-05", "3.050", "3.200", "3.000", "3.150", 200, "630.00"),
        ("1991-07-08", "3.150", "3.160", "3.100", "3.120", 300, "936.00"),
    ]
    make_instrument_with_bars(rows=rows)
    results = get_results(client, URL.format("510300.SH"), interval="1w")
    assert results == [
        bar("1991-07-05", "3.000", "3.200", "2.900", "3.150", 300, "935.00"),
        bar("1991-07-08", "3.150", "3.160", "3.100", "3.120", 300, "936.00"),
    ]


def test_unknown_amount_is_null_and_makes_its_week_unknown(client):
    instrument = make_instrument_with_bars()
    DailyBarFactory(instrument=instrument, day=dt.date(2024, 1, 11), amount=None)

    daily = get_results(client, URL.format("510300.SH"), start="2024-01-10", end="2024-01-11")
    weekly = get_results(client, URL.format("510300.SH"), interval="1w", start="2024-01-01", end="2024-01-11")

    assert [b["amount"] for b in daily] == [9025.0, None]
    assert [b["amount"] for b in weekly] == [26085.0, None]
