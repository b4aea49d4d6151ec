"""The shared body of ``sync_etfs`` and ``sync_stocks``: parse options, run, report, exit code.

Exit codes: 0 everything synced (or another run was busy), 1 anything failed (listed) or the
run was interrupted (SIGTERM/SIGINT), 2 a usage error found before any request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.sync.audit import audit_adjustments
from etfs.sync.options import SyncOptionError, SyncOptions
from etfs.sync.runs import Interrupted
from etfs.sync.service import run_sync

LOG_EVERY_SECONDS = 5.0


class SyncCommand(BaseCommand):
    """Subclasses set ``kind`` (``etfs`` or ``stocks``) and ``help``."""

    kind: str = ""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--symbols",
            nargs="+",
            metavar="SYMBOL",
            help="only these instruments (any form: 510300.SH, sh510300, sh.510300, 510300.XSHG…; spaces or commas)",
        )
        parser.add_argument(
            "--start", help="first trading date of bars to fetch (YYYY-MM-DD or YYYYMMDD); forces history requests"
        )
        parser.add_argument(
            "--end", help="last trading date of bars to fetch (YYYY-MM-DD or YYYYMMDD; default: last final day)"
        )
        parser.add_argument("--full", action="store_true", help="refetch every instrument's whole history")
        parser.add_argument("--list-only", action="store_true", help="sync the instrument list, no bars")
        parser.add_argument("--prices-only", action="store_true", help="sync bars of known instruments, skip the list")
        parser.add_argument("--provider", help="eastmoney or tencent (default: the MARKETDATA_PROVIDERS chain)")
        parser.add_argument("--workers", type=int, help="concurrent history requests (default: MARKETDATA_CONCURRENCY)")
        parser.add_argument(
            "--dry-run", action="store_true", help="fetch the list, write nothing, say what would change"
        )
        parser.add_argument(
            "--verify-adjustments",
            action="store_true",
            help="compare our qfq/hfq with the provider's for the instruments (--symbols, default all active), "
            "repair the corporate actions, report what changed (3 requests per instrument; no bars written)",
        )
        if self.kind == SyncRun.Kind.ETFS:
            parser.add_argument(
                "--no-funds",
                action="store_true",
                help="skip the fund data (NAV, shares, facts, the exchanges' ETF lists)",
            )
        # Market time to act for; tests and replays against the simulator set it.
        parser.add_argument("--now", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sync_options = self.sync_options(options)
        except SyncOptionError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if sync_options.verify_adjustments:
            self._verify(sync_options)
            return
        started = time.monotonic()
        now = self._parse_now(options.get("now"))
        with self._progress() as progress:
            try:
                run = run_sync(
                    sync_options, trigger=SyncRun.Trigger.COMMAND, triggered_by="manage.py", now=now, progress=progress
                )
            except SyncOptionError as exc:
                raise CommandError(str(exc), returncode=2) from None
            except Interrupted as exc:
                # SIGTERM/SIGINT: the run row says failed (interrupted); what was written stays.
                raise CommandError(f"{self.kind} sync {exc}; what was written is kept", returncode=1) from None
        self._report(run, time.monotonic() - started)

    def sync_options(self, options: dict[str, Any]) -> SyncOptions:
        """The command line as ``SyncOptions`` (``SyncOptionError`` for a usage error)."""
        return SyncOptions.parse(
            self.kind,
            symbols=options["symbols"],
            start=options["start"],
            end=options["end"],
            list_only=options["list_only"],
            prices_only=options["prices_only"],
            full=options["full"],
            provider=options["provider"],
            workers=options["workers"],
            dry_run=options["dry_run"],
            funds=not options.get("no_funds", False),
            verify_adjustments=options["verify_adjustments"],
        )

    def _verify(self, options: SyncOptions) -> None:
        """``--verify-adjustments``: audit and repair; exit 1 when a day stays wrong."""
        started = time.monotonic()
        with self._progress() as progress:
            try:
                results = audit_adjustments(
                    self.kind, symbols=options.symbols, provider=options.provider, progress=progress
                )
            except SyncOptionError as exc:
                raise CommandError(str(exc), returncode=2) from None
        changed = sum(r.changes.count for r in results)
        for result in results:
            if result.error or result.changes.count or any(result.wrong_before.values()):
                self.stdout.write(result.describe())
        unsettled = [r.symbol for r in results if not r.settled]
        self.stdout.write(
            f"verified {len(results)} instrument(s) in {time.monotonic() - started:.1f}s: "
            f"{changed} action(s) changed, {len(unsettled)} still differing from the provider"
        )
        if unsettled:
            raise CommandError(
                f"adjustments still differ or could not be checked: {', '.join(unsettled)}", returncode=1
            )

    def _parse_now(self, value: Any) -> dt.datetime | None:
        if value is None or isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--now {value!r} is not a date-time", returncode=2) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=SHANGHAI)
        return parsed

    @contextmanager
    def _progress(self):
        """A rich progress bar on a terminal; a plain line every few seconds otherwise."""
        if self.stdout.isatty():
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=cast(IO[str], self.stdout._out)),  # the stream OutputWrapper wraps
                transient=True,
            ) as bar:
                tasks: dict[str, Any] = {}

                def update(phase: str, done: int, total: int) -> None:
                    if phase not in tasks:
                        tasks[phase] = bar.add_task(f"{self.kind} {phase}", total=total)
                    bar.update(tasks[phase], completed=done, total=total)

                yield update
            return
        last_at, last_phase = 0.0, ""

        def log(phase: str, done: int, total: int) -> None:
            nonlocal last_at, last_phase
            now = time.monotonic()
            if phase == last_phase and done < total and now - last_at < LOG_EVERY_SECONDS:
                return
            last_at, last_phase = now, phase
            share = f" ({100 * done // total}%)" if total else ""
            self.stdout.write(f"{self.kind} {phase}: {done}/{total}{share}")

        yield log

    def _report(self, run: SyncRun, elapsed: float) -> None:
        if run.status == SyncRun.Status.SKIPPED:
            self.stdout.write(self.style.WARNING(run.message))
            return
        title = f"{run.get_kind_display()} sync" + (f" #{run.pk}" if run.pk else " (dry run)")
        styles: dict[str, Callable[[str], str]] = {
            SyncRun.Status.SUCCESS: self.style.SUCCESS,
            SyncRun.Status.PARTIAL: self.style.WARNING,
        }
        style = styles.get(run.status, self.style.ERROR)
        self.stdout.write(style(f"{title}: {run.status} in {elapsed:.1f}s"))
        for line in run.message.splitlines():
            self.stdout.write(f"  {line}")
        if run.status in (SyncRun.Status.PARTIAL, SyncRun.Status.FAILED):
            for error in run.errors or []:
                self.stderr.write(f"  {error.get('symbol') or 'run'}: {error['error']}")
            failed = run.failed_symbols
            what = f"{len(failed)} instrument(s) failed: {', '.join(failed)}" if failed else run.message.splitlines()[0]
            raise CommandError(f"{title} {run.status}: {what}", returncode=1)
