"""Adjusted prices as the API serves them against the simulator's own series (end-to-end checks)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal


def served(client, symbol: str, adjust: str) -> list[tuple]:
    """``(day, open, high, low, close)`` of every stored day, from the bars API in ``adjust``."""
    response = client.get(f"/api/instruments/{symbol}/bars/", {"adjust": adjust, "page_size": 5000})
    assert response.status_code == 200, response.content
    return [
        (dt.date.fromisoformat(r["date"]), *(Decimal(str(r[k])) for k in ("open", "high", "low", "close")))
        for r in response.json()["results"]
    ]


def simulated(sim, symbol: str, adjust: str) -> list[tuple]:
    """The same rows from the simulated host's own ``adjust`` series."""
    return [(b.day, b.open, b.high, b.low, b.close) for b in sim.market.bars(symbol, adjust)]


def wrong_instruments(client, sim, symbols: list[str], adjust: str) -> list[str]:
    """The ``symbols`` whose served ``adjust`` prices differ from the host's on some day."""
    return [symbol for symbol in symbols if served(client, symbol, adjust) != simulated(sim, symbol, adjust)]
