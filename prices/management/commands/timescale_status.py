"""Show what TimescaleDB does with the bar table: hypertables, chunks, compression, policies, aggregates."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from prices.timescale import compress_chunks, has_timescaledb, refresh_aggregates, status


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S%z")
    return str(value)


def render(columns: tuple[str, ...], rows: list[tuple]) -> list[str]:
    """A plain text table: one header line, one line per row, columns padded to fit."""
    cells = [list(columns), *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in cells]


class Command(BaseCommand):
    help = (
        "TimescaleDB status of the bar table: hypertables, chunks (compressed or not, sizes before and after), "
        "compression settings and ratio, policies (jobs) with their last runs, continuous aggregates."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--refresh", action="store_true", help="refresh the continuous aggregates first (what the sync does)"
        )
        parser.add_argument(
            "--compress",
            action="store_true",
            help="compress the chunks the policy would (ended more than 60 days ago) first, instead of waiting",
        )

    def handle(self, *args, **options) -> None:
        if not has_timescaledb():
            raise CommandError("this database has no TimescaleDB extension (DATABASE_URL=timescale://…)")
        if options["refresh"]:
            refreshed = refresh_aggregates()
            self.stdout.write(f"refreshed: {', '.join(refreshed) or 'nothing'}")
        if options["compress"]:
            count = compress_chunks(older_than=dt.timedelta(days=60))
            self.stdout.write(f"compressed: {count} chunk(s) checked")
        for section in status():
            self.stdout.write(self.style.MIGRATE_HEADING(section.title))
            if not section.rows:
                self.stdout.write("  (none)")
                continue
            for line in render(section.columns, section.rows):
                self.stdout.write(f"  {line}")
