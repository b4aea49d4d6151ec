"""``manage.py sync_stocks``: the A-share stock list, then every active stock's daily bars."""

from __future__ import annotations

from etfs.models import SyncRun
from etfs.sync.command import SyncCommand


class Command(SyncCommand):
    help = "Sync the A-share stock list and the daily bars of every active stock (incremental; safe to re-run)."
    kind = SyncRun.Kind.STOCKS
