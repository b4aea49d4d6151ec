"""The columns of a bar as served, in order (what ``prices.rows`` builds and the writers pick from).

Their meanings are in ``prices.rows``; the tuple lives alone so the writers
(``prices.api.writers``), which ``prices.rows`` uses, can name them without importing it back.
"""

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
