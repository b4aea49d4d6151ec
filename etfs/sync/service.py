"""``run_sync``: the one entry point of the sync (commands, tasks, admin and API call it).

It validates everything before the first request, claims the run (one per kind at a time),
syncs the list, then the bars, and always leaves the SyncRun row saying what happened:
``success``, ``partial`` (some instruments failed; each is listed), ``failed`` (the run
stopped: circuit breaker open, list unusable, interrupted) or ``skipped`` (another run busy).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from etfs.calendar import SHANGHAI, last_final_trading_day
from etfs.models import Instrument, SyncRun
from etfs.providers.base import ListingRecord, MarketDataProvider
from etfs.providers.errors import NoNetwork, ProviderError, ProviderUnavailable
from etfs.providers.funds import FundDataProvider
from etfs.providers.registry import build_provider
from etfs.symbols import parse_symbol
from etfs.sync.announced import TermsBook
from etfs.sync.bars import HistorySync, PricePlan, Progress, plan_prices, write_snapshot
from etfs.sync.funds import (
    EXCHANGE_ONLY,
    FundSync,
    apply_universe,
    fund_sync_enabled,
    reconcile_universe,
)
from etfs.sync.listing import SuspiciousListing, apply_listing, fetch_listing
from etfs.sync.options import SyncOptionError, SyncOptions
from etfs.sync.runs import Interrupted, RunRecorder, claim_run, interruptible
from etfs.sync.screening import bar_rules, screen_listings, screen_snapshot
from etfs.sync.sessions import update_calendar
from prices.quarantine import Quarantine
from prices.timescale import refresh_aggregates
from prices.writer import BarWriter

logger = logging.getLogger(__name__)


def _build_provider(provider: str | MarketDataProvider | None) -> tuple[MarketDataProvider, bool]:
    """A provider instance, and whether this run owns it (and closes it)."""
    if isinstance(provider, MarketDataProvider):
        return provider, False
    try:
        return build_provider(provider), True
    except ValueError as exc:
        raise SyncOptionError(f"--provider: {exc}") from None


def run_sync(
    options: SyncOptions,
    *,
    provider: MarketDataProvider | None = None,
    trigger: str = SyncRun.Trigger.COMMAND,
    triggered_by: str = "",
    run: SyncRun | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Sync what ``options`` ask for (the list and/or the daily bars of its kind); return the finished SyncRun.

    The rest is the run's circumstances, not its options: ``provider`` an instance to use
    instead of ``options.provider`` (tests), ``run`` the queued row to fill, ``now`` the market
    time the run acts for (tests inject the simulator's day). A dry run fetches the list only,
    saves nothing and reports what it would do.
    """
    now = now or timezone.now()
    if options.workers is None:
        options = replace(options, workers=int(settings.MARKETDATA["CONCURRENCY"]))
    with_funds = options.funds and not options.dry_run and fund_sync_enabled(options.kind)
    # An unknown provider name fails here, before the run row.
    source, owned = (provider, False) if provider is not None else _build_provider(options.provider)
    if options.scope.syncs_list and not getattr(source, "supports_listing", True):
        if owned:
            source.close()
        raise SyncOptionError(f"--provider {source.name} has no instrument lists: add --prices-only")
    parameters = options.to_json()
    if provider is not None:
        parameters["provider"] = provider.name
    with interruptible():
        if options.dry_run:
            run = SyncRun(kind=options.kind, trigger=trigger, triggered_by=triggered_by, parameters=parameters)
        else:
            run = claim_run(options.kind, parameters=parameters, trigger=trigger, triggered_by=triggered_by, run=run)
            if run.status == SyncRun.Status.SKIPPED:
                logger.warning("%s", run.message)
                if owned:
                    source.close()
                return run
        job = _SyncJob(options, source, RunRecorder(run, dry_run=options.dry_run), now=now, progress=progress)
        if with_funds:
            job.fund_provider = FundDataProvider()
        return _execute(job, source, owned=owned)


def _execute(job: _SyncJob, source: MarketDataProvider, *, owned: bool) -> SyncRun:
    """Run the job and finish its row, whatever happens: a provider that refuses or no network
    ends it ``failed``; SIGTERM/SIGINT (``Interrupted``) or a crash too, and is raised again.
    What was written stays (whole instruments, each in its own transaction)."""
    recorder = job.recorder
    before = (source.stats.requests, source.stats.retries)
    try:
        status, message = job.run()
    except NoNetwork as exc:
        status, message = SyncRun.Status.FAILED, f"Stopped at once, {exc}"
    except ProviderUnavailable as exc:
        status, message = SyncRun.Status.FAILED, f"Stopped early, the provider refuses requests: {exc}"
    except BaseException as exc:
        _record_stats(recorder, source, before, job)
        reason = str(exc) if isinstance(exc, Interrupted) else f"{type(exc).__name__}: {exc}"
        recorder.finish(SyncRun.Status.FAILED, f"Interrupted: {reason}\n{job.summary()}")
        raise
    finally:
        if owned:
            source.close()
        if job.fund_provider is not None:
            job.fund_provider.close()
    _record_stats(recorder, source, before, job)
    return recorder.finish(status, f"{message}\n{job.summary()}".strip())


def _record_stats(
    recorder: RunRecorder, source: MarketDataProvider, before: tuple[int, int], job: _SyncJob | None = None
) -> None:
    """The run's requests and retries: the price provider's, plus the fund hosts' when they ran."""
    funds = job.fund_provider.stats if job is not None and job.fund_provider is not None else None
    recorder.run.requests = source.stats.requests - before[0] + (funds.requests if funds else 0)
    recorder.run.retries = source.stats.retries - before[1] + (funds.retries if funds else 0)


class _SyncJob:
    """The steps of one run, sharing its options and recorder."""

    def __init__(
        self,
        options: SyncOptions,
        provider: MarketDataProvider,
        recorder: RunRecorder,
        *,
        now: dt.datetime,
        progress: Progress | None,
    ) -> None:
        self.options = options
        self.kind = options.kind
        self.provider = provider
        self.recorder = recorder
        self.symbols = list(options.symbols) or None
        self.dry_run = options.dry_run
        self.now = now
        self.progress = progress
        self.final_day = last_final_trading_day(now)
        self.plan: PricePlan | None = None
        self.quarantine: Quarantine | None = None
        # Instruments whose list row or quote failed validation: skipped this run (recorded).
        self.rejected: set[str] = set()
        self.fund_provider: FundDataProvider | None = None  # set when the fund-data phase runs

    @property
    def workers(self) -> int:
        return self.options.workers or int(settings.MARKETDATA["CONCURRENCY"])

    @property
    def run_row(self) -> SyncRun:
        return self.recorder.run

    def run(self) -> tuple[str, str]:
        scope = self.options.scope
        listings: dict[str, ListingRecord] | None = None
        if scope.syncs_list:
            listings = self.sync_list()
            if listings is None and not scope.syncs_prices:
                return SyncRun.Status.FAILED, "The instrument list could not be synced."
        refused: ProviderUnavailable | None = None
        if scope.syncs_prices:
            try:
                self.sync_prices(_quoted_listings(listings))
            except ProviderUnavailable as exc:  # the price host refuses: fund hosts may still answer
                refused = exc
        if self.fund_provider is not None and scope.syncs_prices:
            self.sync_funds(listings)
        if refused is not None:
            raise refused
        return self.outcome()

    def sync_funds(self, listings: dict[str, ListingRecord] | None) -> None:
        """The fund-data phase (``etfs.sync.funds``), after the prices and independent of them."""
        assert self.fund_provider is not None
        if self.progress:
            self.progress("funds", 0, 1)
        FundSync(
            self.fund_provider,
            self.recorder,
            final_day=self.final_day,
            now=self.now,
            full=self.options.full,
            workers=self.workers,
            symbols=self.options.symbol_names or None,
            listings=listings,
        ).run()
        self.recorder.heartbeat(force=True)
        if self.progress:
            self.progress("funds", 1, 1)

    def sync_list(self) -> dict[str, ListingRecord] | None:
        if self.progress:
            self.progress("list", 0, 1)
        try:
            today = self.now.astimezone(SHANGHAI).date()
            # On a helper thread: the heartbeat goes on while a list host hangs.
            fetched = self.recorder.beating(lambda: fetch_listing(self.provider, self.kind))
            listings, self.rejected = screen_listings(fetched, self.kind, today, self.recorder, self.symbols)
            universe = None
            if self.fund_provider is not None:
                listings, universe = reconcile_universe(self.fund_provider, listings)
                self.run_row.fund_report = {**(self.run_row.fund_report or {}), "universe": universe.report()}
            changes = apply_listing(
                self.kind,
                {s: r for s, r in listings.items() if s not in self.rejected},
                today=today,
                symbols=self.symbols,
                dry_run=self.dry_run,
                present=self.rejected,
            )
            if universe is not None:
                apply_universe(universe, listings)
        except ProviderUnavailable:
            raise
        except (ProviderError, SuspiciousListing) as exc:
            self.recorder.error("", f"instrument list: {exc}")
            return None
        self.recorder.add(
            instruments_new=len(changes.new),
            instruments_updated=len(changes.updated),
            instruments_deactivated=len(changes.deactivated),
        )
        self.recorder.heartbeat(force=True)
        if not self.dry_run:
            self.keep_calendar({s: r for s, r in listings.items() if s not in self.rejected})
        if self.progress:
            self.progress("list", 1, 1)
        return listings

    def keep_calendar(self, listings: dict[str, ListingRecord]) -> None:
        """Store the sessions the provider showed (``etfs.sync.sessions``); then the final day is
        decided by them, not by a guess (a holiday beyond ``exchange_calendars`` is not a session)."""
        try:
            update = update_calendar(self.provider, listings, self.now, wait=self.recorder.beating)
        except (NoNetwork, ProviderUnavailable):
            raise
        except ProviderError as exc:
            logger.warning("trading calendar not updated (it keeps what it knew): %s", exc)
            return
        if update.stored:
            logger.info(
                "trading calendar: stored %d day(s) (%d sessions) up to %s%s",
                len(update.stored),
                update.sessions,
                update.stored[-1][0],
                " from the index's history" if update.asked_provider else " from the list snapshot",
            )
        self.final_day = last_final_trading_day(self.now)

    def selected_instruments(self, listings: dict[str, ListingRecord] | None) -> list[Instrument]:
        queryset = Instrument.objects.of_kind(self.kind)
        if not self.symbols:
            instruments = list(queryset.active())
            if self.dry_run and listings:
                # Nothing was created: plan the new ones as the history fetches they would be.
                known = {i.symbol for i in instruments}
                instruments += [_unsaved(r) for s, r in listings.items() if s not in known]
            return instruments
        found = {i.symbol: i for i in Instrument.objects.filter(symbol__in=[s.canonical for s in self.symbols])}
        instruments = []
        for symbol in self.symbols:
            instrument = found.get(symbol.canonical)
            if instrument is None and self.dry_run and listings and symbol.canonical in listings:
                instrument = _unsaved(listings[symbol.canonical])
            if instrument is None:
                where = "in the list or the database" if listings is not None else "in the database (run the list sync)"
                self.recorder.error(symbol.canonical, f"unknown instrument: not {where}")
            elif instrument.is_etf != (self.kind == SyncRun.Kind.ETFS):
                self.recorder.error(symbol.canonical, f"not one of the {self.kind} (is_etf={instrument.is_etf})")
            else:
                instruments.append(instrument)
        return instruments

    def sync_prices(self, listings: dict[str, ListingRecord] | None) -> None:
        if listings:
            self.final_day = provider_final_day(listings, self.final_day)
        instruments = [i for i in self.selected_instruments(listings) if i.symbol not in self.rejected]
        start = self.options.start
        end = min(self.options.end, self.final_day) if self.options.end else self.final_day
        if start and start > end:
            self.recorder.error("", f"--start {start} is after the last final trading day {end}")
            return
        plan = plan_prices(
            instruments,
            listings,
            final_day=self.final_day,
            start=start,
            end=end,
            full=self.options.full,
            overlap=settings.SYNC["OVERLAP_DAYS"],
        )
        self.plan = plan
        logger.info(
            "%s prices up to %s: %d from the snapshot, %d history requests, %d already current",
            self.kind,
            end,
            len(plan.snapshot),
            len(plan.history),
            len(plan.current),
        )
        writer = BarWriter(settings.SYNC["BATCH_SIZE"])
        rules = bar_rules(instruments, self.now.astimezone(SHANGHAI).date())
        quarantine = self.quarantine = Quarantine(
            self.recorder, {i.pk: i.symbol for i in instruments}, {i.pk: i.price_decimals for i in instruments}
        )
        self.recorder.add(instruments_synced=len(plan.current))
        if plan.snapshot:
            plan.snapshot = screen_snapshot(plan.snapshot, rules, quarantine, self.recorder)
            write_snapshot(plan.snapshot, writer, self.recorder, quarantine=quarantine)
        done = len(plan.snapshot) + len(plan.current)
        if self.progress:
            self.progress("history", done, plan.total)
        if plan.history and not self.dry_run:
            book = TermsBook(self.provider, today=end, stocks=self.kind == SyncRun.Kind.STOCKS)
            book.load_stored_splits()
            if book.stocks:
                book.fetch_stocks(parse_symbol(job.symbol).code for job in plan.history if job.new)
            HistorySync(
                self.provider,
                writer,
                self.recorder,
                workers=self.workers,
                progress=self.progress,
                rules=rules,
                quarantine=quarantine,
                book=book,
            ).run(plan.history, done_before=done, total=plan.total)
            for failure in book.failures:
                self.recorder.error("", failure)
            writer.refresh_statistics(self.run_row.bars_inserted)
        if not self.dry_run and (self.run_row.bars_inserted or self.run_row.bars_updated):
            refresh_bar_aggregates()

    def outcome(self) -> tuple[str, str]:
        run = self.run_row
        if not run.errors:
            return SyncRun.Status.SUCCESS, "Everything synced." if not self.dry_run else "Dry run: nothing written."
        failed = [e["symbol"] for e in run.errors if e.get("symbol")]
        if run.instruments_synced == 0 and (failed or any(not e.get("symbol") for e in run.errors)):
            status = SyncRun.Status.FAILED
        else:
            status = SyncRun.Status.PARTIAL
        parts = []
        if failed:
            parts.append(
                f"{len(failed)} instrument(s) failed: {', '.join(failed[:20])}{' …' if len(failed) > 20 else ''}"
            )
        parts += [e["error"] for e in run.errors if not e.get("symbol")]
        return status, "; ".join(parts)

    def summary(self) -> str:
        run = self.run_row
        bars = f"bars {run.bars_inserted} inserted, {run.bars_updated} updated, {run.bars_unchanged} unchanged"
        if run.bars_inserted == run.bars_updated == 0 and not self.dry_run:
            bars += " (nothing changed)"
        lines = [
            f"instruments {run.instruments_new} new, {run.instruments_updated} updated, "
            f"{run.instruments_deactivated} deactivated, {run.instruments_synced} synced, {run.failures} failed",
            bars,
            f"requests {run.requests}, retries {run.retries}",
        ]
        if self.quarantine is not None and (self.quarantine.held or self.quarantine.revised):
            lines.append(
                f"held for a curator {self.quarantine.held} (quarantine admin), "
                f"small revisions applied and logged {self.quarantine.revised}"
            )
        funds = run.fund_report or {}
        if funds.get("nav") or funds.get("shares") or funds.get("universe"):
            nav, universe = funds.get("nav", {}), funds.get("universe", {})
            shares = {
                key: sum(v.get(key, 0) for v in funds.get("shares", {}).values()) for key in ("inserted", "updated")
            }
            lines.append(
                f"funds: NAV {nav.get('inserted', 0)} inserted, {nav.get('updated', 0)} updated "
                f"({nav.get('history_requests', 0)} history requests); shares {shares['inserted']} inserted, "
                f"{shares['updated']} updated; {len(universe.get('only_exchange', []))} ETF(s) only on the exchanges' "
                f"lists, {len(universe.get('only_eastmoney', []))} only on East Money's; "
                f"{funds.get('requests', 0)} fund requests"
            )
        if self.plan is not None:
            lines.append(
                f"paths: {len(self.plan.snapshot)} snapshot, {len(self.plan.history)} history"
                f"{' (not fetched: dry run)' if self.dry_run else ''}, {len(self.plan.current)} already current"
            )
        return "\n".join(lines)


def refresh_bar_aggregates() -> None:
    """After bars were written: bring TimescaleDB's weekly/monthly aggregates up to date.

    Only the buckets the run touched are recomputed. A failure here loses nothing (the bars
    are committed; reads aggregate the days until the hourly policy refreshes), so it is
    logged, not raised.
    """
    try:
        refreshed = refresh_aggregates()
    except DatabaseError as exc:
        logger.warning("continuous aggregates not refreshed (the hourly policy will): %s", exc)
        return
    if refreshed:
        logger.info("refreshed %s", ", ".join(refreshed))


def _quoted_listings(listings: dict[str, ListingRecord] | None) -> dict[str, ListingRecord] | None:
    """The price provider's own list: ETFs only the exchanges list carry no quote, so their bars
    come through history requests (an absent quote would otherwise read as "suspended today")."""
    if listings is None:
        return None
    return {s: r for s, r in listings.items() if (r.raw or {}).get("universe") != EXCHANGE_ONLY}


def provider_final_day(listings: dict[str, ListingRecord], final_day: dt.date) -> dt.date:
    """The latest final day the provider has: its newest quote day, capped at ``final_day``.

    A host that has not published today's close yet (or a simulator living on another
    date) quotes an earlier day; syncing up to that day keeps the snapshot path usable
    instead of sending every instrument to history for bars that do not exist yet. Quotes
    dated after ``final_day`` are provisional (the session has not settled) and ignored.
    """
    days = {r.quote.day for r in listings.values() if r.quote is not None and r.quote.day <= final_day}
    return max(days) if days else final_day


def _unsaved(record: ListingRecord) -> Instrument:
    """An instrument a dry run would create, for planning only (never saved)."""
    return Instrument(
        symbol=record.symbol.canonical,
        code=record.symbol.code,
        exchange=record.symbol.exchange,
        name=record.name,
        is_etf=record.is_etf,
        asset_type=record.asset_type,
        price_decimals=record.decimals,
    )
