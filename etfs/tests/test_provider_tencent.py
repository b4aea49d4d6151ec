from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal as D
from pathlib import Path

import pytest

from etfs.providers.base import Adjust, BarRecord, InstrumentKind
from etfs.providers.errors import BadPayload, NotSupported, UnknownInstrument
from etfs.providers.tencent import TencentProvider, parse_tencent_bars
from etfs.simulator.server import TENCENT_PATHS
from etfs.symbols import Symbol

STAR50 = Symbol("588000", "SH")
TODAY = dt.date(2024, 6, 28)


def payload() -> str:
    return (Path(__file__).parent / "fixtures" / "tencent_fqkline_588000_2020.txt").read_text(encoding="utf-8")


def ohlcv(bars: list[BarRecord]) -> list[tuple]:
    return [(b.day, b.open, b.high, b.low, b.close, b.volume, b.amount) for b in bars]


def test_rows_parse_into_bars_with_volume_in_shares_and_amount_in_cny():
    bars = parse_tencent_bars(payload(), STAR50, Adjust.NONE)

    assert bars[0] == BarRecord(
        day=dt.date(2020, 11, 16),
        open=D("1.556"),
        high=D("1.620"),
        low=D("1.451"),
        close=D("1.465"),
        volume=1445363800,
        amount=D("2119240688.00"),
    )
    assert [b.day for b in bars] == [dt.date(2020, 11, 16), dt.date(2020, 11, 17), dt.date(2020, 11, 18)]


def test_star_market_stock_volume_is_already_in_shares():
    body = payload().replace("sh588000", "sh688981")

    bars = parse_tencent_bars(body, Symbol("688981", "SH"), Adjust.NONE)

    assert (bars[0].volume, bars[0].close) == (14453638, D("1.47"))


def test_adjusted_rows_are_read_from_the_adjusted_key():
    body = payload().replace('"day"', '"qfqday"')

    assert len(parse_tencent_bars(body, STAR50, Adjust.QFQ)) == 3


def test_symbol_missing_from_data_is_unknown_instrument():
    with pytest.raises(UnknownInstrument, match="sh588001"):
        parse_tencent_bars(payload(), Symbol("588001", "SH"), Adjust.NONE)


def test_error_code_is_bad_payload():
    with pytest.raises(BadPayload, match="code='-1'|code=-1"):
        parse_tencent_bars('{"code":-1,"msg":"param error","data":[]}', STAR50, Adjust.NONE)


def test_short_row_without_amount_is_kept_with_unknown_amount_and_a_warning(caplog):
    body = '{"code":0,"data":{"sh588000":{"day":[["2020-11-16","1.556","1.465","1.620","1.451","14453638.000"]]}}}'

    with caplog.at_level(logging.WARNING, logger="etfs.providers.tencent"):
        bars = parse_tencent_bars(body, STAR50, Adjust.NONE)

    assert (bars[0].volume, bars[0].amount) == (1445363800, None)
    assert "no amount" in caplog.text


def test_list_instruments_is_not_supported(settings):
    with pytest.raises(NotSupported, match="no instrument list"):
        TencentProvider().list_instruments(InstrumentKind.ETF)


def test_fetch_daily_bars_pages_by_calendar_year_and_matches_the_truth(simulator, provider_settings):
    sim = simulator(n_etfs=2, n_stocks=0, years=2, today=TODAY, seed=3)
    provider_settings(sim)
    symbol = sim.market.instruments()[1].symbol

    series = TencentProvider().fetch_daily_bars(symbol, dt.date(2022, 7, 1), TODAY, Adjust.HFQ)

    truth = [b for b in sim.market.bars(symbol, "hfq") if b.day >= dt.date(2022, 7, 1)]
    assert ohlcv(series.bars) == ohlcv(truth)
    assert [e.query["param"] for e in sim.requests(TENCENT_PATHS[0])] == [
        f"{symbol.prefixed},day,2022-07-01,2022-12-31,640,hfq",
        f"{symbol.prefixed},day,2023-01-01,2023-12-31,640,hfq",
        f"{symbol.prefixed},day,2024-01-01,2024-06-28,640,hfq",
    ]


def test_fetch_daily_bars_without_start_walks_back_to_the_first_year_with_bars(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=2, today=TODAY, seed=3)
    provider_settings(sim)
    symbol = sim.market.instruments()[0].symbol

    series = TencentProvider().fetch_daily_bars(symbol, end=TODAY)

    assert ohlcv(series.bars) == ohlcv(sim.market.bars(symbol))
    assert [e.query["param"].split(",")[2][:4] for e in sim.request_log] == ["2024", "2023", "2022", "2021"]
