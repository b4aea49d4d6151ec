from __future__ import annotations

import datetime as dt

import pytest

from etfs.providers.base import InstrumentKind
from etfs.providers.eastmoney import EastMoneyProvider
from etfs.providers.errors import ProviderError, UnknownInstrument
from etfs.providers.registry import FallbackProvider, build_provider
from etfs.providers.tencent import TencentProvider
from etfs.simulator.server import KLINE_PATH, TENCENT_PATHS
from etfs.symbols import Symbol

TODAY = dt.date(2024, 6, 28)


def ohlcv(bars) -> list[tuple]:
    return [(b.day, b.open, b.high, b.low, b.close, b.volume, b.amount) for b in bars]


@pytest.mark.parametrize(("name", "cls"), [("eastmoney", EastMoneyProvider), ("tencent", TencentProvider)])
def test_build_provider_by_name(name, cls):
    assert type(build_provider(name)) is cls


def test_unknown_provider_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"'sina'.*valid: eastmoney, tencent"):
        build_provider("sina")


def test_default_is_a_fallback_chain_in_settings_order(settings):
    settings.MARKETDATA = {**settings.MARKETDATA, "PROVIDERS": ["tencent", "eastmoney"]}

    provider = build_provider()

    assert isinstance(provider, FallbackProvider)
    assert [p.name for p in provider.providers] == ["tencent", "eastmoney"]


def test_a_single_configured_provider_is_used_directly(settings):
    settings.MARKETDATA = {**settings.MARKETDATA, "PROVIDERS": ["eastmoney"]}

    assert type(build_provider()) is EastMoneyProvider


def test_fallback_answers_from_tencent_when_east_money_is_down(simulator, provider_settings, settings):
    down = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    up = simulator(n_etfs=2, n_stocks=0, years=1, today=TODAY, seed=3)
    provider_settings(up, MAX_ATTEMPTS=2, EASTMONEY_KLINE_URL=down.kline_url)
    down.stop()
    symbol = up.market.instruments()[1].symbol

    series = build_provider().fetch_daily_bars(symbol, start=dt.date(2024, 1, 1), end=TODAY, adjust="qfq")

    assert series.provider == "tencent"
    assert ohlcv(series.bars) == ohlcv([b for b in up.market.bars(symbol, "qfq") if b.day >= dt.date(2024, 1, 1)])


def test_fallback_does_not_ask_the_next_provider_about_an_unknown_instrument(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    provider_settings(sim)

    with pytest.raises(UnknownInstrument):
        build_provider().fetch_daily_bars(Symbol("510999", "SH"))

    assert [e.path for e in sim.request_log] == [KLINE_PATH]


def test_fallback_lists_from_the_first_provider_that_has_lists(simulator, provider_settings, settings):
    sim = simulator(n_etfs=3, n_stocks=0, years=1, today=TODAY)
    provider_settings(sim, PROVIDERS=["tencent", "eastmoney"])

    records = list(build_provider().list_instruments(InstrumentKind.ETF))

    assert sorted(r.symbol for r in records) == sorted(i.symbol for i in sim.market.listed())


def test_fallback_names_every_provider_when_all_fail(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    provider_settings(sim, MAX_ATTEMPTS=1)
    sim.stop()

    with pytest.raises(ProviderError) as caught:
        build_provider().fetch_daily_bars(Symbol("510300", "SH"), start=TODAY, end=TODAY)

    message = str(caught.value)
    assert "every provider failed" in message and "eastmoney:" in message and "tencent:" in message
    assert "instrument=510300.SH" in message


def test_fallback_stats_add_up_every_provider(simulator, provider_settings):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    provider_settings(sim, EASTMONEY_KLINE_URL=sim.base_url + "/gone", MAX_ATTEMPTS=1)
    provider = build_provider()

    provider.fetch_daily_bars(sim.market.instruments()[0].symbol, start=TODAY, end=TODAY)

    assert (provider.stats.requests, provider.stats.failures) == (2, 1)
    assert [e.path for e in sim.request_log] == ["/gone", TENCENT_PATHS[0]]
