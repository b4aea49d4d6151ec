from __future__ import annotations

from django.apps import AppConfig


class PricesConfig(AppConfig):
    """Price bars (TimescaleDB hypertables), adjustments and the price API."""

    name = "prices"
    verbose_name = "Prices"
