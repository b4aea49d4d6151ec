"""Fixtures for provider and sync tests: a running market-data simulator and settings pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etfs.simulator.market import SimConfig
from etfs.simulator.server import Simulator

# Fast and forgiving against a local host: no pacing, tiny backoff, short timeouts.
TEST_MARKETDATA: dict[str, Any] = {
    "CONNECT_TIMEOUT": 1.0,
    "READ_TIMEOUT": 1.0,
    "MAX_ATTEMPTS": 5,
    "BACKOFF_BASE": 0.001,
    "BACKOFF_MAX": 0.01,
    "RATE_LIMIT": 1000.0,
    "CONCURRENCY": 4,
    "BREAKER_THRESHOLD": 5,
    "BREAKER_COOLDOWN": 300.0,
}


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    """Start simulators: ``sim = simulator(n_etfs=5, today=date(2024, 6, 28))``; all stop at teardown."""
    started: list[Simulator] = []

    def start(**config: Any) -> Simulator:
        sim = Simulator(SimConfig(**config)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def provider_settings(settings) -> Callable[..., dict[str, Any]]:
    """Point ``settings.MARKETDATA`` at a running simulator: ``provider_settings(sim, MAX_ATTEMPTS=3)``."""

    def point(sim: Simulator, **overrides: Any) -> dict[str, Any]:
        settings.MARKETDATA = {
            **settings.MARKETDATA,
            "EASTMONEY_LIST_URL": sim.list_url,
            "EASTMONEY_KLINE_URL": sim.kline_url,
            "TENCENT_KLINE_URL": sim.tencent_url,
            **sim.table_urls(),
            **TEST_MARKETDATA,
            **overrides,
        }
        return settings.MARKETDATA

    return point


@pytest.fixture
def fund_settings(settings) -> Callable[..., dict[str, Any]]:
    """Turn the fund-data phase on against a running simulator: ``fund_settings(sim)``."""

    def point(sim: Simulator, **overrides: Any) -> dict[str, Any]:
        settings.FUNDDATA = {**settings.FUNDDATA, "ENABLED": True, **sim.fund_urls(), **overrides}
        return settings.FUNDDATA

    return point


from etfs.tests.processes import migrated_template, scratch_database  # noqa: E402, F401  (process tests)
