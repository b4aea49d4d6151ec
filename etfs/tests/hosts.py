"""A simulated host for whole-sync tests, with ``settings.MARKETDATA`` pointing at it.

The end-to-end, poisoned, quarantine and compression tests all sync against a simulator that
answers at once: one provider (East Money, so request counts are its own), no pacing, retries
that back off for milliseconds, not seconds. Each test module chooses only its market and the
few settings that matter to it (``sync_host(SimConfig(...), MAX_ATTEMPTS=2)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etfs.simulator.market import SimConfig
from etfs.simulator.server import Simulator

SYNC_MARKETDATA: dict[str, Any] = {
    "PROVIDERS": ["eastmoney"],
    "RATE_LIMIT": 0,
    "READ_TIMEOUT": 2.0,
    "BACKOFF_BASE": 0.005,
    "BACKOFF_MAX": 0.02,
}


def point_settings_at(settings, sim: Simulator, **overrides: Any) -> dict[str, Any]:
    """``settings.MARKETDATA`` for a sync against ``sim``: its URLs, ``SYNC_MARKETDATA``, then ``overrides``."""
    settings.MARKETDATA = {
        **settings.MARKETDATA,
        "EASTMONEY_LIST_URL": sim.list_url,
        "EASTMONEY_KLINE_URL": sim.kline_url,
        "TENCENT_KLINE_URL": sim.tencent_url,
        **sim.table_urls(),
        **SYNC_MARKETDATA,
        **overrides,
    }
    return settings.MARKETDATA


@pytest.fixture
def sync_host(settings) -> Iterator[Callable[..., Simulator]]:
    """Start a simulator and point the settings at it: ``sim = sync_host(SimConfig(n_etfs=5), MAX_ATTEMPTS=8)``.

    Every simulator started stops at teardown."""
    started: list[Simulator] = []

    def start(config: SimConfig, **overrides: Any) -> Simulator:
        sim = Simulator(config).start()
        started.append(sim)
        point_settings_at(settings, sim, **overrides)
        return sim

    yield start
    for sim in started:
        sim.stop()
