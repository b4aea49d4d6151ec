"""Market-data providers: one small interface (``base.MarketDataProvider``), one module per host."""
