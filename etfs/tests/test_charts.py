"""The server-side SVG chart: which bars it reads, how it adjusts them, what it draws."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from etfs.calendar import trading_days
from etfs.charts import (
    ChartPoint,
    PriceSeries,
    downsample,
    load_price_series,
    normalise_adjust,
    normalise_range,
    render_price_chart,
)
from etfs.tests.factories import InstrumentFactory, make_bars
from prices.models import CorporateAction


def polyline_points(svg: str) -> list[tuple[float, float]]:
    match = re.search(r'<polyline class="chart-close" points="([^"]+)"', svg)
    assert match, "no close line drawn"
    return [tuple(float(v) for v in pair.split(",")) for pair in match.group(1).split()]


@pytest.mark.django_db
def test_range_is_anchored_at_the_last_stored_bar():
    etf = InstrumentFactory()
    days = trading_days(dt.date(2023, 1, 3), dt.date(2024, 6, 28))
    make_bars(etf, days, [Decimal("3.500")] * len(days))

    series = load_price_series(etf, range_key="3M", adjust="none")

    assert series.points[-1].day == dt.date(2024, 6, 28)
    assert series.points[0].day == trading_days(dt.date(2024, 3, 28), dt.date(2024, 6, 28))[0]
    assert len(series.points) == len(trading_days(dt.date(2024, 3, 28), dt.date(2024, 6, 28)))


@pytest.mark.django_db
def test_all_range_reads_the_whole_history_in_date_order():
    etf = InstrumentFactory()
    days = trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 31))
    make_bars(etf, list(reversed(days)), [Decimal("3.500")] * len(days))

    series = load_price_series(etf, range_key="all")

    assert series.range_key == "ALL"
    assert [p.day for p in series.points] == days


@pytest.mark.django_db
def test_qfq_and_hfq_apply_the_instruments_corporate_actions():
    etf = InstrumentFactory(price_decimals=3)
    make_bars(
        etf,
        [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)],
        [Decimal("4.000"), Decimal("3.900"), Decimal("1.950")],
    )
    CorporateAction.objects.create(instrument=etf, ex_date=dt.date(2024, 1, 3), cash=Decimal("0.1"))
    CorporateAction.objects.create(instrument=etf, ex_date=dt.date(2024, 1, 4), split_ratio=Decimal(2))

    qfq = load_price_series(etf, range_key="ALL", adjust="qfq")
    hfq = load_price_series(etf, range_key="ALL", adjust="hfq")

    # qfq: 4.000 -> (4.000 - 0.1) / 2; 3.900 -> 3.900 / 2. hfq: 3.900 + 0.1; 1.950 * 2 + 0.1.
    assert [p.close for p in qfq.points] == [Decimal("1.950"), Decimal("1.950"), Decimal("1.950")]
    assert [p.close for p in hfq.points] == [Decimal("4.000"), Decimal("4.000"), Decimal("4.000")]


@pytest.mark.django_db
def test_adjustment_leaves_volume_in_shares():
    etf = InstrumentFactory()
    make_bars(etf, [dt.date(2024, 1, 2), dt.date(2024, 1, 3)], [Decimal("4.000"), Decimal("2.000")], volume=500)
    CorporateAction.objects.create(instrument=etf, ex_date=dt.date(2024, 1, 3), split_ratio=Decimal(2))

    series = load_price_series(etf, range_key="ALL", adjust="qfq")

    assert [p.volume for p in series.points] == [500, 500]


@pytest.mark.django_db
def test_chart_draws_one_line_point_per_bar():
    etf = InstrumentFactory()
    days = trading_days(dt.date(2024, 1, 2), dt.date(2024, 2, 29))
    make_bars(etf, days, [Decimal("3.000") + Decimal("0.010") * i for i in range(len(days))])

    svg = render_price_chart(load_price_series(etf, range_key="ALL"))

    points = polyline_points(svg)
    assert len(points) == len(days)
    assert points[0][0] < points[-1][0]  # time runs left to right
    assert points[0][1] > points[-1][1]  # a rising close goes up the screen (smaller y)


def test_chart_without_bars_says_so_and_draws_no_line():
    series = PriceSeries(symbol="510300.SH", range_key="1Y", adjust="none", decimals=3, points=[])

    svg = render_price_chart(series)

    assert "<polyline" not in svg
    assert "No bars stored for this range yet." in svg


def test_chart_with_one_bar_draws_a_point():
    point = ChartPoint(day=dt.date(2024, 1, 2), close=Decimal("3.500"), volume=100)
    series = PriceSeries(symbol="510300.SH", range_key="1Y", adjust="none", decimals=3, points=[point])

    svg = render_price_chart(series)

    assert len(polyline_points(svg)) == 1
    assert "<circle" in svg


def test_volume_bars_are_red_on_up_days_and_green_on_down_days():
    points = [
        ChartPoint(day=dt.date(2024, 1, 2), close=Decimal("3.500"), volume=100),
        ChartPoint(day=dt.date(2024, 1, 3), close=Decimal("3.600"), volume=200),
        ChartPoint(day=dt.date(2024, 1, 4), close=Decimal("3.400"), volume=300),
    ]
    svg = render_price_chart(PriceSeries("510300.SH", "1Y", "none", 3, points))

    up = re.search(r'class="chart-volume chart-volume-up" d="([^"]+)"', svg).group(1)
    down = re.search(r'class="chart-volume chart-volume-down" d="([^"]+)"', svg).group(1)
    assert up.count("M") == 2
    assert down.count("M") == 1


def test_chart_labels_escape_the_symbol():
    series = PriceSeries(symbol='<x onload="1">', range_key="1Y", adjust="none", decimals=3, points=[])

    svg = render_price_chart(series)

    assert '<x onload="1">' not in svg
    assert "&lt;x onload=&quot;1&quot;&gt;" in svg


def test_downsample_keeps_the_last_close_and_sums_the_volume_of_each_bucket():
    points = [ChartPoint(dt.date(2024, 1, 1) + dt.timedelta(days=i), Decimal(i), 10) for i in range(10)]

    merged = downsample(points, max_points=5)

    assert [p.close for p in merged] == [Decimal(1), Decimal(3), Decimal(5), Decimal(7), Decimal(9)]
    assert [p.volume for p in merged] == [20] * 5
    assert sum(p.volume for p in merged) == sum(p.volume for p in points)


def test_long_histories_are_drawn_with_at_most_max_points():
    points = [ChartPoint(dt.date(2000, 1, 1) + dt.timedelta(days=i), Decimal("3.5"), 1) for i in range(5000)]

    svg = render_price_chart(PriceSeries("510300.SH", "ALL", "none", 3, points), max_points=600)

    assert len(polyline_points(svg)) == 600


@pytest.mark.parametrize(("given", "expected"), [("5y", "5Y"), ("ALL", "ALL"), ("", "1Y"), (None, "1Y"), ("10Y", "1Y")])
def test_normalise_range_accepts_known_keys_only(given, expected):
    assert normalise_range(given) == expected


@pytest.mark.parametrize(("given", "expected"), [("QFQ", "qfq"), ("hfq", "hfq"), ("bad", "none"), (None, "none")])
def test_normalise_adjust_accepts_known_adjustments_only(given, expected):
    assert normalise_adjust(given) == expected
