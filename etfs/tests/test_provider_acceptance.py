"""The acceptance list of the provider issue, run against the simulator."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from etfs.providers.base import Adjust, InstrumentKind
from etfs.providers.errors import ProviderError, ProviderUnavailable, TransientError
from etfs.providers.registry import build_provider
from etfs.simulator.server import KLINE_PATH

TODAY = dt.date(2024, 6, 28)


def test_hostile_host_still_yields_complete_correct_data_within_the_retry_budget(simulator, provider_settings):
    sim = simulator(n_etfs=5, n_stocks=3, years=1, today=TODAY, seed=7, fail_rate=0.3, garbage_rate=0.05)
    settings = provider_settings(sim, MAX_ATTEMPTS=10)
    provider = build_provider("eastmoney")

    listed = [*provider.list_instruments(InstrumentKind.ETF), *provider.list_instruments(InstrumentKind.STOCK)]
    fetched = {
        (inst.symbol, adjust): provider.fetch_daily_bars(inst.symbol, adjust=adjust).bars
        for inst in sim.market.instruments()
        for adjust in Adjust
    }

    assert sorted(r.symbol for r in listed) == sorted(i.symbol for i in sim.market.listed())
    assert fetched == {key: sim.market.bars(*key) for key in fetched}
    stats = provider.stats
    answered = stats.requests - stats.retries
    assert stats.failures == 0 and stats.retries > 0
    assert stats.requests == len(sim.request_log) <= answered * settings["MAX_ATTEMPTS"]
    assert sum(entry.outcome in ("fail", "garbage") for entry in sim.request_log) == stats.retries


def test_stopped_host_fails_fast_naming_the_host_with_a_bounded_number_of_attempts(simulator, provider_settings):
    sim = simulator(n_etfs=4, n_stocks=0, years=1, today=TODAY)
    provider_settings(sim, MAX_ATTEMPTS=3, BREAKER_THRESHOLD=2)
    symbols = [inst.symbol for inst in sim.market.instruments()]
    host = sim.base_url.removeprefix("http://")
    sim.stop()
    provider = build_provider("eastmoney")

    errors: list[ProviderError] = []
    for symbol in symbols:
        try:
            provider.fetch_daily_bars(symbol)
        except ProviderError as exc:
            errors.append(exc)

    assert [type(e) for e in errors] == [TransientError, TransientError, ProviderUnavailable, ProviderUnavailable]
    assert all(f"host={host}" in str(e) for e in errors)
    assert "gave up after 3 attempts; last: connection failed" in str(errors[0])
    assert "circuit breaker open" in str(errors[2])
    assert (provider.stats.requests, provider.stats.retries, provider.stats.failures) == (6, 4, 2)


def test_rate_limiter_holds_across_threads_as_the_host_measures_it(simulator, provider_settings):
    sim = simulator(n_etfs=4, n_stocks=2, years=1, today=TODAY)
    settings = provider_settings(sim, RATE_LIMIT=5)
    provider = build_provider("eastmoney")
    symbols = [inst.symbol for inst in sim.market.instruments()] * 2

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(provider.fetch_daily_bars, symbols))

    times = sorted(entry.time for entry in sim.requests(KLINE_PATH))
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert len(times) == 12
    assert busiest <= settings["RATE_LIMIT"]
