"""``manage.py check_bars``: hold bars stored invalid by earlier versions for a curator."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from prices.integrity import hold_invalid_bars
from prices.models import DailyBar, QuarantinedBar


class Command(BaseCommand):
    help = (
        "Find stored bars that cannot be true (NaN, a close above the high, dated before 1990) and hold "
        "them in the quarantine admin; exit 1 when any is pending there."
    )

    def handle(self, *args, **options) -> None:
        held = hold_invalid_bars(DailyBar, QuarantinedBar)
        pending = QuarantinedBar.objects.filter(status=QuarantinedBar.Status.PENDING, kind=QuarantinedBar.Kind.STORED)
        count = pending.count()
        self.stdout.write(f"{held} invalid stored bar(s) newly held; {count} pending in the quarantine admin.")
        if count:
            for row in pending.select_related("instrument")[:20]:
                self.stdout.write(f"  {row.instrument.symbol} {row.day}: {row.reason}")
            raise CommandError(f"{count} invalid stored bar(s) wait for a curator", returncode=1)
