from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal as D
from pathlib import Path

import pytest

from etfs.providers.base import Adjust, BarRecord, InstrumentKind
from etfs.providers.eastmoney import EastMoneyProvider, parse_kline, parse_list_page, symbol_from_market
from etfs.providers.errors import BadPayload, UnknownInstrument
from etfs.simulator import formats as sim_formats
from etfs.simulator import server as sim_server
from etfs.symbols import Symbol

FIXTURES = Path(__file__).parent / "fixtures"
ZOOMLION = Symbol("000157", "SZ")
CSI300 = Symbol("510300", "SH")
TODAY = dt.date(2024, 6, 28)


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def kline_000157() -> str:
    return read("eastmoney_kline_000157_fqt0_excerpt.json")


def with_klines(text: str, extra: list[str]) -> str:
    payload = json.loads(text)
    payload["data"]["klines"] = payload["data"]["klines"][:1] + extra + payload["data"]["klines"][1:]
    return json.dumps(payload, ensure_ascii=False)


# --- kline parser on recorded payloads ---------------------------------------------------------
def test_kline_first_real_bar_is_parsed_exactly_with_volume_in_shares():
    series = parse_kline(kline_000157(), ZOOMLION, Adjust.NONE)

    assert series.bars[0] == BarRecord(
        day=dt.date(2018, 1, 2),
        open=D("4.45"),
        high=D("4.59"),
        low=D("4.45"),
        close=D("4.55"),
        volume=66321900,
        amount=D("301680752.00"),
        prev_close=D("4.47"),
    )


def test_kline_last_real_bar_is_parsed_exactly():
    series = parse_kline(kline_000157(), ZOOMLION, Adjust.NONE)

    assert series.bars[-1] == BarRecord(
        day=dt.date(2026, 1, 30),
        open=D("8.76"),
        high=D("8.91"),
        low=D("8.60"),
        close=D("8.70"),
        volume=49650400,
        amount=D("434699311.42"),
        prev_close=D("8.78"),
    )


def test_kline_header_gives_name_decimals_and_every_row():
    series = parse_kline(kline_000157(), ZOOMLION, Adjust.NONE)

    assert (series.name, series.decimals, len(series.bars), series.provider) == ("中联重科", 2, 15, "eastmoney")


def test_kline_keeps_amplitude_change_pct_and_turnover():
    bar = parse_kline(kline_000157(), ZOOMLION, Adjust.NONE).bars[0]

    assert (bar.amplitude_pct, bar.change_pct, bar.turnover_pct) == (D("3.13"), D("1.79"), D("1.07"))


def test_kline_prices_carry_the_reported_decimal_places():
    series = parse_kline(read("eastmoney_kline_510300_fqt1_rows.json"), CSI300, Adjust.QFQ)

    first = series.bars[0]
    assert [str(first.open), str(first.close), str(first.high), str(first.low)] == ["1.794", "1.847", "1.850", "1.787"]
    assert (first.prev_close, first.volume, first.amount) == (D("1.817"), 1277518800, D("3285755328.0"))


def test_kline_prev_close_is_close_minus_change():
    series = parse_kline(read("eastmoney_kline_510300_fqt1_rows.json"), CSI300, Adjust.QFQ)

    assert [(b.day, b.prev_close) for b in series.bars[-3:]] == [
        (dt.date(2025, 12, 10), D("4.708")),
        (dt.date(2025, 12, 11), D("4.702")),
        (dt.date(2025, 12, 12), D("4.668")),
    ]


def test_kline_jsonp_callback_body_parses_like_the_bare_body():
    wrapped = "jQuery35108_1769760000000(" + kline_000157() + ");"

    assert parse_kline(wrapped, ZOOMLION, Adjust.NONE) == parse_kline(kline_000157(), ZOOMLION, Adjust.NONE)


def test_kline_data_null_is_unknown_instrument_naming_the_secid():
    body = '{"rc":0,"rt":17,"svr":181669692,"lt":1,"full":0,"dlmkts":"","data":null}'

    with pytest.raises(UnknownInstrument, match=r"secid 1\.510999"):
        parse_kline(body, Symbol("510999", "SH"), Adjust.NONE)


def test_kline_row_without_prices_is_skipped_and_logged(caplog):
    body = with_klines(kline_000157(), ["2018-01-03,-,-,-,-,-,-,-,-,-,-"])

    with caplog.at_level(logging.WARNING, logger="etfs.providers.eastmoney"):
        series = parse_kline(body, ZOOMLION, Adjust.NONE)

    assert len(series.bars) == 15
    assert "skipped a kline row" in caplog.text and "2018-01-03,-,-" in caplog.text


def test_kline_row_without_amount_keeps_the_bar_with_unknown_amount():
    body = with_klines(kline_000157(), ["2018-01-16,4.49,4.50,4.52,4.47,300000,-,1.1,0.22,0.01,0.5"])

    bar = parse_kline(body, ZOOMLION, Adjust.NONE).bars[1]

    assert (bar.day, bar.close, bar.volume, bar.amount) == (dt.date(2018, 1, 16), D("4.50"), 30000000, None)


def test_kline_row_with_a_non_number_is_bad_payload():
    body = with_klines(kline_000157(), ["2018-01-16,4.49,abc,4.52,4.47,300000,1.00,1.1,0.22,0.01,0.5"])

    with pytest.raises(BadPayload, match="not a number"):
        parse_kline(body, ZOOMLION, Adjust.NONE)


def test_kline_row_without_change_has_unknown_prev_close():
    body = with_klines(kline_000157(), ["2018-01-16,4.49,4.50,4.52,4.47,300000,135000000.00,-,-,-,-"])

    bar = parse_kline(body, ZOOMLION, Adjust.NONE).bars[1]

    assert (bar.day, bar.close, bar.prev_close, bar.turnover_pct) == (dt.date(2018, 1, 16), D("4.50"), None, None)


def test_kline_truncated_body_is_bad_payload():
    text = kline_000157()

    with pytest.raises(BadPayload, match="unparseable"):
        parse_kline(text[: len(text) // 2], ZOOMLION, Adjust.NONE)


def test_kline_html_error_page_is_bad_payload():
    with pytest.raises(BadPayload):
        parse_kline("<html><body>系统繁忙</body></html>", ZOOMLION, Adjust.NONE)


def test_kline_answer_for_another_code_is_bad_payload():
    with pytest.raises(BadPayload, match="asked for 000158"):
        parse_kline(kline_000157(), Symbol("000158", "SZ"), Adjust.NONE)


# --- list parser on recorded rows -----------------------------------------------------------------
def test_list_page_parses_real_rows_into_listings_with_quotes():
    total, records = parse_list_page(read("eastmoney_clist_etf_page.json"), InstrumentKind.ETF)

    first = records[0]
    assert (total, len(records)) == (4, 4)
    assert (first.symbol, first.name, first.is_etf, first.asset_type, first.decimals) == (
        CSI300,
        "沪深300ETF华泰柏瑞",
        True,
        "etf",
        3,
    )
    assert first.quote == BarRecord(
        day=dt.date(2026, 1, 9),
        open=D("4.857"),
        high=D("4.903"),
        low=D("4.844"),
        close=D("4.870"),
        volume=719742700,
        amount=D("3511139189.0"),
        prev_close=D("4.863"),
    )


def test_list_page_reads_market_and_update_time():
    _, records = parse_list_page(read("eastmoney_clist_etf_page.json"), InstrumentKind.ETF)

    assert [r.symbol.canonical for r in records] == ["510300.SH", "159919.SZ", "588000.SH", "512010.SH"]
    assert records[0].updated_at == dt.datetime(2026, 1, 9, 7, 45, tzinfo=dt.UTC)


def test_list_page_accepts_diff_as_an_object_keyed_by_position():
    payload = json.loads(read("eastmoney_clist_etf_page.json"))
    payload["data"]["diff"] = {str(i): row for i, row in enumerate(payload["data"]["diff"])}

    assert parse_list_page(json.dumps(payload), InstrumentKind.ETF) == parse_list_page(
        read("eastmoney_clist_etf_page.json"), InstrumentKind.ETF
    )


def test_list_page_data_null_past_the_last_page_is_empty():
    assert parse_list_page('{"rc":0,"data":null}', InstrumentKind.ETF) == (0, [])


def test_list_row_with_dashes_has_no_quote_but_keeps_previous_close_raw():
    payload = json.loads(read("eastmoney_clist_etf_page.json"))
    row = payload["data"]["diff"][0]
    row.update({key: "-" for key in ("f2", "f3", "f4", "f5", "f6", "f15", "f16", "f17")})

    _, records = parse_list_page(json.dumps(payload, ensure_ascii=False), InstrumentKind.ETF)

    assert records[0].quote is None
    assert records[0].raw["f18"] == "4.863"


def test_list_row_of_a_stock_is_classified_by_code():
    payload = json.loads(read("eastmoney_clist_etf_page.json"))
    payload["data"]["diff"] = [{**payload["data"]["diff"][0], "f1": 2, "f12": "000002", "f13": 0, "f14": "万  科Ａ"}]

    record = parse_list_page(json.dumps(payload, ensure_ascii=False), InstrumentKind.STOCK)[1][0]

    assert (record.symbol, record.name, record.is_etf, record.asset_type) == (
        Symbol("000002", "SZ"),
        "万  科Ａ",
        False,
        "stock",
    )
    assert record.quote.close == D("4.87")


@pytest.mark.parametrize(
    ("code", "market", "expected"),
    [("510300", 1, "510300.SH"), ("159919", 0, "159919.SZ"), ("430047", 0, "430047.BJ"), ("920819", "0", "920819.BJ")],
)
def test_market_id_zero_means_shenzhen_or_beijing_by_code(code, market, expected):
    assert symbol_from_market(code, market).canonical == expected


# --- provider against the simulator -------------------------------------------------------------
def test_list_instruments_returns_every_listed_etf_with_its_latest_bar(simulator, provider_settings):
    sim = simulator(n_etfs=6, n_stocks=2, years=1, today=TODAY, seed=3)
    provider_settings(sim)
    provider = EastMoneyProvider()

    records = list(provider.list_instruments(InstrumentKind.ETF))

    truth = {i.symbol: i for i in sim.market.listed() if i.is_etf}
    assert {r.symbol for r in records} == set(truth)
    for record in records:
        bars = sim.market.bars(record.symbol)
        expected = bars[-1] if bars[-1].day == sim.market.snapshot_day() else None
        assert (record.name, record.quote) == (truth[record.symbol].name, expected)


def test_list_instruments_fetches_every_page_when_the_host_caps_pages_lower(simulator, provider_settings, monkeypatch):
    monkeypatch.setattr(sim_formats, "PAGE_CAP", 2)
    sim = simulator(n_etfs=7, n_stocks=0, years=1, today=TODAY, seed=3)
    provider_settings(sim)

    records = list(EastMoneyProvider().list_instruments(InstrumentKind.ETF))

    listed = [i for i in sim.market.listed() if i.is_etf]
    assert sorted(r.symbol for r in records) == sorted(i.symbol for i in listed)
    assert len(sim.requests(sim_server.LIST_PATH)) == -(-len(listed) // 2)


def test_list_instruments_asks_for_stocks_of_the_given_exchanges_only(simulator, provider_settings):
    sim = simulator(n_etfs=0, n_stocks=12, years=1, today=TODAY, seed=3)
    provider_settings(sim)

    records = list(EastMoneyProvider().list_instruments(InstrumentKind.STOCK, exchanges=("SZ",)))

    assert {r.symbol for r in records} == {i.symbol for i in sim.market.listed() if i.symbol.exchange == "SZ"}
    assert sim.requests(sim_server.LIST_PATH)[0].query["fs"] == "m:0 t:6,m:0 t:80"


@pytest.mark.parametrize("adjust", list(Adjust))
def test_fetch_daily_bars_equals_the_simulated_truth(simulator, provider_settings, adjust):
    sim = simulator(n_etfs=2, n_stocks=0, years=1, today=TODAY, seed=3)
    provider_settings(sim)
    split_etf = next(i for i in sim.market.instruments() if any(a.split_ratio != 1 for a in i.actions))

    series = EastMoneyProvider().fetch_daily_bars(split_etf.symbol, adjust=adjust)

    assert series.bars == sim.market.bars(split_etf.symbol, adjust)
    assert (series.symbol, series.adjust, series.decimals, series.name) == (
        split_etf.symbol,
        adjust,
        3,
        split_etf.name,
    )


def test_fetch_daily_bars_sends_the_date_window(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=3)
    provider_settings(sim)
    symbol = sim.market.instruments()[0].symbol

    series = EastMoneyProvider().fetch_daily_bars(symbol, dt.date(2024, 6, 1), dt.date(2024, 6, 20), Adjust.QFQ)

    window = [b.day for b in sim.market.bars(symbol) if dt.date(2024, 6, 1) <= b.day <= dt.date(2024, 6, 20)]
    assert [b.day for b in series.bars] == window
    query = sim.requests(sim_server.KLINE_PATH)[0].query
    assert (query["secid"], query["klt"], query["fqt"], query["beg"], query["end"]) == (
        symbol.secid,
        "101",
        "1",
        "20240601",
        "20240620",
    )


def test_fetch_daily_bars_of_an_unknown_symbol_raises_without_retrying(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=3)
    provider_settings(sim)
    provider = EastMoneyProvider()

    with pytest.raises(UnknownInstrument, match="instrument=510999.SH"):
        provider.fetch_daily_bars(Symbol("510999", "SH"))

    assert (provider.stats.requests, provider.stats.retries, provider.stats.failures) == (1, 0, 0)
