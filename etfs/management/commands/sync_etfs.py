"""``manage.py sync_etfs``: the ETF list, then every active ETF's daily bars."""

from __future__ import annotations

from etfs.models import SyncRun
from etfs.sync.command import SyncCommand


class Command(SyncCommand):
    help = "Sync the ETF list and the daily bars of every active ETF (incremental; safe to re-run)."
    kind = SyncRun.Kind.ETFS
