from __future__ import annotations

from django.apps import AppConfig


class EtfsConfig(AppConfig):
    """Instruments, market-data providers and the sync engine."""

    name = "etfs"
    verbose_name = "Instruments and sync"
