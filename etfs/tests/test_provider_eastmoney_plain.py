"""The bulk-loading lane: ``parse_kline_plain`` must store exactly what ``parse_kline`` would.

Every row it keeps as text is compared value by value with the exact parser's record, and
every way a row can stop being plain must land on the exact parser (which then skips, names
or rounds it the way it always did).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from etfs.providers.base import Adjust, BarRecord, BarSeries, PlainBars, PriceTicks
from etfs.providers.eastmoney import parse_kline, parse_kline_plain
from etfs.simulator.formats import render_kline
from etfs.simulator.market import SimConfig, SimMarket
from etfs.symbols import Symbol
from prices.writer import plain_copy_text

FIXTURES = Path(__file__).parent / "fixtures"
ZOOMLION = Symbol("000157", "SZ")
TODAY = dt.date(2024, 6, 28)


def recorded() -> str:
    return (FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text(encoding="utf-8")


def with_row(text: str, index: int, row: str) -> str:
    """The payload with its row ``index`` replaced by ``row``."""
    payload = json.loads(text)
    payload["data"]["klines"][index] = row
    return json.dumps(payload, ensure_ascii=False)


def row_values(row: tuple[str, ...]) -> tuple:
    day, open_, high, low, close, volume, amount = row
    return (dt.date.fromisoformat(day), *map(Decimal, (open_, high, low, close)), int(volume), Decimal(amount))


def record_values(bar: BarRecord) -> tuple:
    return (bar.day, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.amount)


def assert_same_as_exact(plain: PlainBars, exact: BarSeries) -> None:
    assert [row_values(row) for row in plain.rows] == [record_values(bar) for bar in exact.bars]
    # The ex-day evidence reads the plain rows' prices: the same ticks as the exact records'.
    ticks, exact_ticks = PriceTicks.from_text([r[:5] for r in plain.rows], 3), PriceTicks.from_bars(exact.bars, 3)
    assert ticks.days == exact_ticks.days and (ticks.ticks == exact_ticks.ticks).all()


@pytest.fixture(scope="module")
def market() -> SimMarket:
    return SimMarket(SimConfig(n_etfs=8, n_stocks=8, years=3, today=TODAY, seed=3))


# --- plain series: the same values as the exact parser -----------------------------------------
def test_recorded_answer_is_plain_and_equals_the_exact_parse():
    plain = parse_kline_plain(recorded(), ZOOMLION)

    assert isinstance(plain, PlainBars)
    assert_same_as_exact(plain, parse_kline(recorded(), ZOOMLION, Adjust.NONE))


def test_volume_is_in_shares():
    plain = parse_kline_plain(recorded(), ZOOMLION)

    assert plain.rows[0][5] == "66321900"  # 663219 lots on 2018-01-02


def test_simulated_series_with_distributions_and_splits_equal_the_exact_parse(market):
    with_actions = 0
    for inst in market.instruments():
        text = render_kline(market, {"secid": inst.symbol.secid, "fqt": "0"})
        plain = parse_kline_plain(text, inst.symbol)
        assert isinstance(plain, PlainBars), inst.symbol
        assert_same_as_exact(plain, parse_kline(text, inst.symbol, Adjust.NONE))
        with_actions += bool(inst.actions)
    assert with_actions  # the comparison covered raw jumps at splits


def test_range_is_cut_like_the_exact_path():
    start, end = dt.date(2019, 3, 1), dt.date(2020, 6, 30)
    plain = parse_kline_plain(recorded(), ZOOMLION, start, end)
    exact = [b for b in parse_kline(recorded(), ZOOMLION, Adjust.NONE).bars if start <= b.day <= end]

    assert [row_values(row) for row in plain.rows] == [record_values(bar) for bar in exact]


def test_records_on_demand_are_the_exact_series():
    plain = parse_kline_plain(recorded(), ZOOMLION)

    assert plain.records() == parse_kline(recorded(), ZOOMLION, Adjust.NONE).bars


def test_first_day_and_length():
    plain = parse_kline_plain(recorded(), ZOOMLION)

    assert (plain.first_day, len(plain)) == (dt.date(2018, 1, 2), len(plain.rows))


def test_copy_text_carries_the_wire_values():
    plain = parse_kline_plain(recorded(), ZOOMLION)

    first = plain_copy_text(7, plain.rows[:1])

    assert first == "7\t2018-01-02 00:00:00+08:00\t4.45\t4.59\t4.45\t4.55\t66321900\t301680752.00\n"


def test_copy_text_before_1992_goes_through_the_zone_database():
    text = plain_copy_text(1, [("1991-06-03", "1.00", "1.00", "1.00", "1.00", "100", "100.00")])

    assert text.split("\t")[1] == "1991-06-03T00:00:00+09:00"  # summer time, 1986-1991


# --- anything not plain takes the exact parser -------------------------------------------------
@pytest.mark.parametrize(
    "row",
    [
        pytest.param("2018-01-03,4.55,-,4.61,4.50,591290,271123456.00,2.42,1.10,0.05,0.30", id="no close"),
        pytest.param("2018-01-03,4.55,4.601,4.61,4.50,591290,271123456.00,2.42,1.10,0.05,0.30", id="more places"),
        pytest.param("2018-01-03,4.55,4.60,4.61,4.50,5912.5,271123456.00,2.42,1.10,0.05,0.30", id="part lot"),
        pytest.param("2018-01-03,4.55,4.60,4.61,4.50,591290,-,2.42,1.10,0.05,0.30", id="no amount"),
        pytest.param("2018-01-03,4.55,4.60,4.61,4.50,591290,271123456.00,-,-,-,-", id="no derived fields"),
        pytest.param("2018-01-03,4.55,4.60,4.61,4.50,591290,1e9,2.42,1.10,0.05,0.30", id="exponent"),
        pytest.param("2018-01-03,4.55,4.60,4.61,4.50,591290,271123456.00,2.42,1.10,0.05", id="ten fields"),
    ],
)
def test_row_that_is_not_plain_gives_the_exact_series(row):
    text = with_row(recorded(), 1, row)

    answer = parse_kline_plain(text, ZOOMLION)

    assert isinstance(answer, BarSeries)
    assert answer.bars == parse_kline(text, ZOOMLION, Adjust.NONE).bars


def test_non_ascii_digits_are_not_plain():
    text = with_row(recorded(), 1, "2018-01-03,４.55,4.60,4.61,4.50,591290,271123456.00,2.42,1.10,0.05,0.30")

    assert isinstance(parse_kline_plain(text, ZOOMLION), BarSeries)


def test_impossible_date_is_not_plain():
    text = with_row(recorded(), 1, "2018-02-30,4.55,4.60,4.61,4.50,591290,271123456.00,2.42,1.10,0.05,0.30")

    with pytest.raises(Exception, match="bad kline date"):
        parse_kline_plain(text, ZOOMLION)


def test_implausible_prices_are_left_to_the_exact_path():
    text = with_row(recorded(), 1, "2018-01-03,4.55,4.60,4.40,4.50,591290,271123456.00,2.42,1.10,0.05,0.30")

    answer = parse_kline_plain(text, ZOOMLION)

    assert isinstance(answer, BarSeries)  # high < low: the sync's check names the day


def test_more_decimals_than_the_columns_keep_is_not_plain():
    payload = json.loads(recorded())
    payload["data"]["decimal"] = 4

    assert isinstance(parse_kline_plain(json.dumps(payload), ZOOMLION), BarSeries)


def test_impossible_date_outside_the_range_is_refused_like_the_exact_parser():
    text = with_row(recorded(), 0, "2017-02-30,4.55,4.60,4.61,4.50,591290,271123456.00,2.42,1.10,0.05,0.30")

    with pytest.raises(Exception, match="bad kline date"):
        parse_kline_plain(text, ZOOMLION, start=dt.date(2019, 1, 1))
