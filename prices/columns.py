"""The columns of a bar as served, in the order every row tuple keeps them (what ``prices.rows``
builds and the writers pick from).

Their meanings are in ``prices.rows``; what each column is — a date, an integer, text or a
decimal number — lives here beside them, so the SQL that writes lines (``prices.rows``) and the
writers (``prices.api.writers``, which ``prices.rows`` uses) write it alike without importing
each other back.
"""

from __future__ import annotations

COLUMNS = (
    "symbol",
    "date",
    "period_start",
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "pct_chg",
    "volume",
    "amount",
    "adj_factor",
    "adj_offset",
)
PERIOD_START = COLUMNS.index("period_start")  # what a page of rows continues from

DATE_COLUMNS = frozenset({"date", "period_start"})
INT_COLUMNS = frozenset({"volume"})
TEXT_COLUMNS = frozenset({"symbol", "name"})  # ``name``: the latest-bar screen's rows
# Written as JSON strings; every other bar column is a JSON number (or null).
JSON_STRINGS = DATE_COLUMNS | {"symbol"}


def default_columns(*, with_symbol: bool, interval: str) -> tuple[str, ...]:
    """Columns only some answers have: ``symbol`` on multi-instrument answers, ``period_start`` on 1w/1M."""
    return tuple(c for c in COLUMNS if (c != "symbol" or with_symbol) and (c != "period_start" or interval != "1d"))
