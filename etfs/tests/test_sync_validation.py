"""The rules of ``etfs.sync.validation``, one behaviour each, and on real recorded rows."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from etfs.providers.base import BarRecord, InstrumentKind, ListingRecord, PlainBars
from etfs.providers.eastmoney import parse_kline, parse_kline_plain, parse_kline_row, parse_kline_ticks, parse_list_row
from etfs.symbols import Symbol
from etfs.sync.bars import HistoryJob, fetch_history
from etfs.sync.validation import (
    ETF_LIMIT,
    MAIN_BOARD_LIMIT,
    BarRules,
    InvalidData,
    bar_problem,
    is_risk_warning,
    listing_problem,
    price_limit,
    screen_moves,
    validate_bars,
    validate_plain,
)

FIXTURES = Path(__file__).parent / "fixtures"
RULES = BarRules("510300.SH", 3, ETF_LIMIT, dt.date(2024, 6, 28))
GOOD = BarRecord(
    dt.date(2024, 6, 3),
    Decimal("3.500"),
    Decimal("3.520"),
    Decimal("3.470"),
    Decimal("3.480"),
    1000,
    Decimal("3480.00"),
)


def day(n: int) -> dt.date:
    return dt.date(2024, 6, 3) + dt.timedelta(days=n)


def series(*closes: str, reference: bool = True) -> list[BarRecord]:
    bars, previous = [], None
    for n, close in enumerate(closes):
        value = Decimal(close)
        bars.append(
            BarRecord(day(n), value, value, value, value, 100, value * 100, prev_close=previous if reference else None)
        )
        previous = value
    return bars


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"close": Decimal("NaN")}, "close is not a finite number"),
        ({"open": Decimal("Infinity")}, "open is not a finite number"),
        ({"open": Decimal(0), "low": Decimal(0)}, "open is not positive"),
        ({"low": Decimal(-1)}, "low is not positive"),
        ({"high": Decimal("3.400")}, "between low and high"),
        ({"close": Decimal("3.530")}, "between low and high"),
        ({"open": Decimal("-3.500"), "close": Decimal("-3.480")}, "open is not positive"),
        ({"volume": -100}, "volume is not a whole"),
        ({"amount": Decimal("NaN")}, "amount is not a finite"),
        ({"day": dt.date(1479, 6, 3)}, "before the first session"),
        ({"day": dt.date(2024, 7, 1)}, "after today"),
        ({"prev_close": Decimal("-3.51")}, "reference previous close"),
    ],
)
def test_impossible_bar_is_named(change, problem):
    assert problem in bar_problem(replace(GOOD, **change), RULES)


def test_plausible_bar_passes():
    assert bar_problem(GOOD, RULES) is None


def test_bar_before_listing_or_after_delisting_is_invalid():
    rules = replace(RULES, list_date=day(1), delist_date=day(1))

    assert "before the instrument's listing" in bar_problem(GOOD, rules)
    assert "after the instrument left the list" in bar_problem(replace(GOOD, day=day(2)), rules)


def test_same_date_twice_raises_naming_the_row():
    with pytest.raises(InvalidData, match="the same date twice.*row: 2024-06-03"):
        validate_bars([GOOD, GOOD], RULES)


def test_dates_out_of_order_raise():
    with pytest.raises(InvalidData, match="out of order"):
        validate_bars([replace(GOOD, day=day(1)), GOOD], RULES)


def test_plain_bars_outside_the_instruments_life_raise():
    plain = PlainBars(Symbol("510300", "SH"), 3, [("2024-06-03", "1", "1", "1", "1", "100", "1")], [], list)

    with pytest.raises(InvalidData, match="before the instrument's listing"):
        validate_plain(plain, replace(RULES, list_date=day(5)))


# --- list rows -----------------------------------------------------------------------------------
def listing(code: str, exchange: str = "SH", name: str = "沪深300ETF") -> ListingRecord:
    return ListingRecord(Symbol(code, exchange), name, is_etf=True, asset_type="etf")


@pytest.mark.parametrize(
    ("code", "exchange", "problem"),
    [
        ("51030", "SH", "not six digits"),
        ("ABCDEF", "SH", "not six digits"),
        ("../../x", "SZ", "not six digits"),
        ("5103000000000", "SH", "not six digits"),
        ("600000", "SH", "not a etf code of SH"),
        ("510300", "SZ", "not a etf code of SZ"),
    ],
)
def test_list_code_off_the_exchange_rules_is_rejected(code, exchange, problem):
    assert problem in listing_problem(listing(code, exchange), InstrumentKind.ETF)


def test_list_name_longer_than_the_column_is_rejected():
    assert "300 characters" in listing_problem(listing("510300", name="名" * 300), InstrumentKind.ETF)


def test_stock_codes_of_each_board_pass_the_stock_list():
    for code, exchange in (("600000", "SH"), ("688981", "SH"), ("000001", "SZ"), ("300750", "SZ"), ("920001", "BJ")):
        record = ListingRecord(Symbol(code, exchange), "股", is_etf=False, asset_type="stock")
        assert listing_problem(record, InstrumentKind.STOCK) is None, code


def test_real_etf_list_rows_pass():
    with (FIXTURES / "real_etf_list_codes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    assert rows
    for row in rows:
        record = listing(row["code"][2:], row["code"][:2].upper(), row["name"])
        assert listing_problem(record, InstrumentKind.ETF) is None, row


# --- moves ---------------------------------------------------------------------------------------
def test_price_limits_follow_the_board():
    assert price_limit(Symbol("600000", "SH"), is_etf=False) == MAIN_BOARD_LIMIT
    assert price_limit(Symbol("300750", "SZ"), is_etf=False) == Decimal("0.20")
    assert price_limit(Symbol("688981", "SH"), is_etf=False) == Decimal("0.20")
    assert price_limit(Symbol("830799", "BJ"), is_etf=False) == Decimal("0.30")


@pytest.mark.parametrize("name", ["ST康美", "*ST海润", "S*ST前锋", "SST华新", "＊ST大控"])
def test_risk_warning_stocks_on_the_main_boards_had_a_five_percent_limit(name):
    before_the_rule_change = dt.date(2025, 7, 4)

    assert is_risk_warning(name)
    assert price_limit(Symbol("600518", "SH"), is_etf=False, name=name, day=before_the_rule_change) == Decimal("0.05")
    assert price_limit(Symbol("000502", "SZ"), is_etf=False, name=name, day=before_the_rule_change) == Decimal("0.05")


def test_risk_warning_stocks_keep_their_boards_limit_elsewhere_and_since_july_2025():
    day = dt.date(2025, 7, 4)

    assert price_limit(Symbol("600518", "SH"), is_etf=False, name="*ST康美", day=dt.date(2025, 7, 7)) == Decimal("0.10")
    assert price_limit(Symbol("300344", "SZ"), is_etf=False, name="ST立方", day=day) == Decimal("0.20")
    assert price_limit(Symbol("688086", "SH"), is_etf=False, name="*ST紫晶", day=day) == Decimal("0.20")
    assert price_limit(Symbol("830799", "BJ"), is_etf=False, name="ST艾融", day=day) == Decimal("0.30")
    assert price_limit(Symbol("600519", "SH"), is_etf=False, name="贵州茅台", day=day) == Decimal("0.10")


def test_move_beyond_the_limit_is_held_and_the_next_day_compared_with_the_last_kept():
    bars = series("3.000", "3.100", "3100.000", "3.150")
    bars[3] = replace(bars[3], prev_close=Decimal("3.100"))  # the host's reference stays true

    screened = screen_moves(bars, RULES)

    assert [b.close for b in screened.bars] == [Decimal("3.000"), Decimal("3.100"), Decimal("3.150")]
    assert [b.day for b, _ in screened.held] == [day(2)]
    assert "beyond the ±20% daily limit" in screened.held[0][1]
    assert screened.tainted_days == {day(2), day(3)}


def test_stock_limit_up_day_is_kept():
    rules = replace(RULES, decimals=2, limit=MAIN_BOARD_LIMIT)

    assert not screen_moves(series("10.00", "11.00", "12.10"), rules).held


def test_first_days_after_listing_trade_without_a_limit():
    assert not screen_moves(series("1.000", "2.000", "3.000"), RULES, from_listing=True).held


def test_reference_far_from_the_previous_close_is_an_implausible_split():
    bars = series("3.000", "3.000")
    bars[1] = replace(bars[1], open=Decimal("3000"), high=Decimal("3000"), low=Decimal("3000"), close=Decimal("3000"))
    bars[1] = replace(bars[1], prev_close=Decimal("3000"))

    assert "implies a 1:1000 split" in screen_moves(bars, RULES).held[0][1]


def test_known_action_explains_a_jump_without_a_reference():
    bars = series("3.000", "1.000", "1.010", reference=False)

    assert not screen_moves(bars, replace(RULES, action_days=frozenset({day(1)}))).held


def test_spike_without_a_reference_is_held():
    assert [b.day for b, _ in screen_moves(series("3.000", "9.000", "3.010", reference=False), RULES).held] == [day(1)]


def test_real_share_conversion_without_a_reference_is_kept():
    """Sina's raw 512010 across its 2021-06-28 conversion (3.206 → 0.836): a lasting level change."""
    with (FIXTURES / "sina_512010_share_conversion_2021_rows.csv").open() as handle:
        bars = [
            BarRecord(
                dt.date.fromisoformat(r["date"]),
                Decimal(r["open"]),
                Decimal(r["high"]),
                Decimal(r["low"]),
                Decimal(r["close"]),
                int(r["volume"]),
                None,
            )
            for r in csv.DictReader(handle)
        ]
    rules = replace(RULES, today=dt.date(2026, 1, 1))

    validate_bars(bars, rules)
    assert screen_moves(bars, rules).bars == bars


def test_real_east_money_rows_are_valid_and_within_the_limit():
    text = (FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text()
    symbol = Symbol("000157", "SZ")
    bars = parse_kline(text, symbol, "none").bars
    rules = BarRules("000157.SZ", 2, MAIN_BOARD_LIMIT, dt.date(2026, 12, 31))

    validate_bars(bars, rules)
    assert screen_moves(bars, rules).bars == bars
    assert isinstance(parse_kline_plain(text, symbol), PlainBars)


def test_plain_lane_hands_a_duplicate_day_to_the_exact_parser():
    text = (FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text()
    payload = json.loads(text)
    klines = payload["data"]["klines"]
    payload["data"]["klines"] = [klines[0], *klines]

    answer = parse_kline_plain(json.dumps(payload), Symbol("000157", "SZ"))

    assert not isinstance(answer, PlainBars)
    with pytest.raises(InvalidData, match="the same date twice"):
        validate_bars(answer.bars, BarRules("000157.SZ", 2, MAIN_BOARD_LIMIT, dt.date(2026, 1, 1)))


def test_plain_lane_parses_a_big_move_exactly_for_the_limit_check():
    text = (FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text()
    payload = json.loads(text)
    fields = payload["data"]["klines"][3].split(",")
    close = Decimal(fields[2])
    reference = close - Decimal(fields[9])
    fields[1:5] = [str(close * 2)] * 4  # open = close = high = low: +100 % on the day
    fields[9] = str(close * 2 - reference)
    payload["data"]["klines"][3] = ",".join(fields)

    answer = parse_kline_plain(json.dumps(payload), Symbol("000157", "SZ"))

    assert dt.date.fromisoformat(fields[0]) in [bar.day for _, bar in answer.ex_pairs]


# --- the bulk-loading lane in fetch_history -------------------------------------------------------
class PlainAnswer:
    """A provider answering one recorded kline text on both lanes (no network), and a qfq
    series (``qfq_text``, default the same rows: no ex-day among them)."""

    name = "recorded"

    def __init__(self, text: str, qfq_text: str | None = None) -> None:
        self.text = text
        self.qfq_text = qfq_text or text

    def fetch_price_ticks(self, symbol, start=None, end=None, adjust="qfq"):
        return parse_kline_ticks(self.qfq_text, symbol, start, end)

    def fetch_plain_daily_bars(self, symbol, start=None, end=None):
        return parse_kline_plain(self.text, symbol, start, end)

    def fetch_daily_bars(self, symbol, start=None, end=None, adjust="none"):
        return parse_kline(self.text, symbol, adjust)


def first_ten_rows() -> str:
    """The recorded 000157 answer cut to its contiguous first ten rows (2018-01)."""
    payload = json.loads((FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text())
    payload["data"]["klines"] = payload["data"]["klines"][:10]
    return json.dumps(payload)


def thousandfold(text: str, index: int) -> tuple[str, dt.date]:
    """Row ``index`` at 1000× its prices, its reference previous close kept true."""
    payload = json.loads(text)
    fields = payload["data"]["klines"][index].split(",")
    close = Decimal(fields[2])
    reference = close - Decimal(fields[9])
    fields[1:5] = [str(Decimal(v) * 1000) for v in fields[1:5]]
    fields[9] = str(close * 1000 - reference)
    payload["data"]["klines"][index] = ",".join(fields)
    return json.dumps(payload), dt.date.fromisoformat(fields[0])


def test_backfill_lane_sends_a_day_beyond_the_limit_to_the_exact_path_which_holds_it():
    text, poisoned = thousandfold(first_ten_rows(), 9)  # the last: no later row tells on it
    job = HistoryJob(1, "000157.SZ", None, dt.date(2026, 12, 31), 2, new=True)
    rules = BarRules("000157.SZ", 2, MAIN_BOARD_LIMIT, dt.date(2026, 12, 31))

    fetched = fetch_history(
        PlainAnswer(text, qfq_text=first_ten_rows()), job, build_copy_text=True, rules=rules
    )  # qfq: the true rows

    assert not isinstance(fetched.bars, PlainBars)
    assert [bar.day for bar, _ in fetched.held] == [poisoned]
    assert poisoned not in {bar.day for bar in fetched.bars}
    assert fetched.copy_text is not None and poisoned.isoformat() not in fetched.copy_text


def test_backfill_lane_keeps_a_clean_answer_plain():
    text = first_ten_rows()
    job = HistoryJob(1, "000157.SZ", None, dt.date(2026, 12, 31), 2, new=True)
    rules = BarRules("000157.SZ", 2, MAIN_BOARD_LIMIT, dt.date(2026, 12, 31))

    assert isinstance(fetch_history(PlainAnswer(text), job, build_copy_text=True, rules=rules).bars, PlainBars)


# --- non-finite numbers from the wire fail their instrument, never the run -------------------------
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("2024-01-02,Infinity,1.000,1.100,0.900,100,100.00,1,1,0.010,1", "open is not a finite number"),
        ("2024-01-02,NaN,NaN,NaN,NaN,100,100.00,1,1,0.010,1", "open is not a finite number"),
        ("2024-01-02,1.000,1.000,1.100,0.900,NaN,100.00,1,1,0.010,1", "volume is not a whole"),
        ("2024-01-02,1.000,1.000,1.100,0.900,100,100.00,1,1,Infinity,1", "reference previous close"),
    ],
)
def test_non_finite_kline_field_reaches_validation(line, problem):
    assert problem in bar_problem(parse_kline_row(line, 3), RULES)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"f2": "Infinity"}, "close is not a finite number"),
        ({"f5": "NaN"}, "volume is not a whole"),
        ({"f297": "NaN"}, "unparseable quote"),
        ({"f1": "NaN"}, "unparseable quote"),
    ],
)
def test_non_finite_list_field_fails_only_its_row(fields, problem):
    row = {"f12": "510300", "f13": 1, "f14": "沪深300ETF", "f2": 1, "f15": 1, "f16": 1, "f17": 1, "f5": 1, "f6": 1}
    record = parse_list_row({**row, "f297": 20240603, **fields}, InstrumentKind.ETF)

    found = record.problem or bar_problem(record.quote, RULES)
    assert problem in found
