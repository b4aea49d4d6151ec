"""Daily bars: decide per instrument how to bring it up to date, then fetch and write.

Three ways, cheapest first: an instrument whose previous trading day is stored takes the
final day's bar from the list snapshot (no request of its own); one already current is only
re-checked against the snapshot; every other one (new, behind, asked for a range, or on an
ex-day the snapshot flagged) goes through history: its raw series from its last stored bar
minus ``SYNC["OVERLAP_DAYS"]`` trading days (or its whole history) is written, and its whole
raw and qfq series are read as the evidence of ex-days (``etfs.sync.steps``). An ex-day the
snapshot flagged on an instrument stored up to the day before needs no raw request (its raw
history is stored, today's bar is the snapshot's): the provider's qfq and hfq series are read
instead, which pin the terms from both sides. History requests run on a thread pool; only the
calling thread touches the database, writing complete instruments in their own transactions.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import gc
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import Max

from etfs.calendar import previous_trading_day, shift_trading_days
from etfs.models import Instrument
from etfs.providers.base import Adjust, BarRecord, ListingRecord, MarketDataProvider, PlainBars, PriceTicks
from etfs.providers.errors import BadPayload, ProviderError, ProviderUnavailable
from etfs.symbols import Symbol, parse_symbol
from etfs.sync.actions import Findings, Source, derive_action, record_actions, stored_actions
from etfs.sync.announced import TermsBook, pin_with_tables
from etfs.sync.runs import RunRecorder
from etfs.sync.steps import SeriesMismatch, find_actions, pin_with_hfq, step_days
from etfs.sync.validation import (
    UNLIMITED_FIRST_BARS,
    BarRules,
    Screened,
    screen_moves,
    validate_bars,
    validate_plain,
)
from prices.adjustments import Action
from prices.models import DailyBar, time_to_trading_date, trading_date_to_time
from prices.quarantine import Quarantine
from prices.writer import BarWriter, WriteCounts, copy_text, plain_copy_text

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
# Write buffered instruments at least this often, so progress and resumability stay fine.
FLUSH_SECONDS = 1.0
# Python's default 5 ms GIL switch interval made every writer query wait behind parsing
# fetcher threads (measured: a 2-ms INSERT took 5-6 ms).
WRITER_SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True)
class HistoryJob:
    """One history request: ``start`` None means the instrument's whole history."""

    instrument_id: int
    symbol: str
    start: dt.date | None
    end: dt.date
    decimals: int
    new: bool = False  # nothing stored yet: the bars can be copied in without merging
    known: tuple[Action, ...] = ()  # stored actions: kept where they still explain the series
    hint: Action | None = None  # the snapshot's reading of an ex-day today (fallback only)
    # An ex-day on the snapshot path: the stored raw prices up to the day before and today's
    # bar from the list; no raw request, the qfq and hfq series are the evidence.
    stored: PriceTicks | None = None
    quote: BarRecord | None = None


@dataclass
class Fetched:
    """One instrument's answer, checked and prepared by its fetcher thread (no database).

    ``bars`` stays ``PlainBars`` on the bulk-loading lane (a new instrument on a ``COPY``
    backend), where only ``copy_text`` is written and records are made only if needed.
    """

    job: HistoryJob
    bars: list[BarRecord] | PlainBars
    findings: Findings | None
    copy_text: str | None = None
    held: list[tuple[BarRecord, str]] = field(default_factory=list)  # suspicious days, not written

    @property
    def records(self) -> list[BarRecord]:
        return self.bars.records() if isinstance(self.bars, PlainBars) else self.bars

    @property
    def first_day(self) -> dt.date | None:
        if isinstance(self.bars, PlainBars):
            return self.bars.first_day
        return self.bars[0].day if self.bars else None


@dataclass
class PricePlan:
    """Which instruments take which path in this run."""

    snapshot: list[tuple[Instrument, BarRecord]] = field(default_factory=list)
    history: list[HistoryJob] = field(default_factory=list)
    current: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.snapshot) + len(self.history) + len(self.current)


def last_bar_dates(instrument_ids: list[int]) -> dict[int, dt.date]:
    """The trading date of each instrument's last stored bar (instruments without bars absent)."""
    result: dict[int, dt.date] = {}
    for offset in range(0, len(instrument_ids), 500):
        chunk = instrument_ids[offset : offset + 500]
        rows = DailyBar.objects.filter(instrument_id__in=chunk).values("instrument_id").annotate(last=Max("time"))
        result.update({row["instrument_id"]: time_to_trading_date(row["last"]) for row in rows})
    return result


def plan_prices(
    instruments: list[Instrument],
    listings: dict[str, ListingRecord] | None,
    *,
    final_day: dt.date,
    start: dt.date | None,
    end: dt.date,
    full: bool,
    overlap: int,
) -> PricePlan:
    """Choose snapshot, re-check or history for each instrument (no network, a few queries).

    The snapshot is used only when its day is ``final_day`` (the close has settled) and the
    run asks for the current state (no explicit range, no ``full``); without a list (prices
    only) every instrument goes through history, which also re-reads the overlap days.
    """
    plan = PricePlan()
    last = last_bar_dates([i.pk for i in instruments])
    previous_final = previous_trading_day(final_day)
    for instrument in instruments:
        stored = last.get(instrument.pk)
        if full or start is not None or stored is None:
            plan.history.append(
                HistoryJob(instrument.pk, instrument.symbol, start, end, instrument.price_decimals, new=stored is None)
            )
            continue
        listing = listings.get(instrument.symbol) if listings is not None else None
        if listing is not None and end == final_day:
            quote = listing.quote
            if quote is None:
                # Listed without a trade today (suspended): nothing new to fetch; a gap before
                # the suspension is filled by history once it trades again.
                plan.current.append(instrument.symbol)
                continue
            if quote.day == final_day and stored >= previous_final:
                plan.snapshot.append((instrument, quote))
                continue
        if listings is not None and stored >= end:
            plan.current.append(instrument.symbol)
            continue
        plan.history.append(
            HistoryJob(
                instrument.pk, instrument.symbol, shift_trading_days(stored, overlap), end, instrument.price_decimals
            )
        )
    _send_ex_days_to_history(plan, last, overlap, end)
    plan.history = _with_evidence(plan.history)
    return plan


def _with_evidence(jobs: list[HistoryJob]) -> list[HistoryJob]:
    """Known instruments' jobs read their whole history as evidence and know their stored actions.

    The whole history, not a window: the qfq series of days before an older ex-day shows its
    exact terms only once a later split scales them (0.01-CNY quotes cannot tell cash 0.224
    from 0.23 until then), so every comparison re-checks every stored action. It costs bytes,
    never requests: the raw and the qfq request are one each either way.
    """
    known = stored_actions([job.instrument_id for job in jobs if not job.new and job.instrument_id is not None])
    return [job if job.new else dataclasses.replace(job, known=tuple(known.get(job.instrument_id, ()))) for job in jobs]


def _send_ex_days_to_history(plan: PricePlan, last: dict[int, dt.date], overlap: int, end: dt.date) -> None:
    """A new snapshot bar whose reference price (``f18``) differs from the stored close is an
    ex-day: that instrument goes through history, whose qfq series gives the exact terms."""
    fresh = [(i, q) for i, q in plan.snapshot if last[i.pk] < q.day]
    closes = _previous_closes(fresh)
    hints = {}
    for instrument, quote in fresh:
        hint = derive_action(
            quote.day, closes.get((instrument.pk, quote.day)), quote.prev_close, instrument.price_decimals
        )
        if hint is not None:
            hints[instrument.pk] = hint
    if not hints:
        return
    plan.snapshot = [(i, q) for i, q in plan.snapshot if i.pk not in hints]
    for instrument, quote in fresh:
        if instrument.pk not in hints:
            continue
        if last[instrument.pk] >= previous_trading_day(quote.day) and quote.day == end:
            # No gap: the raw history is stored, today's raw bar is the quote (no raw request).
            stored = stored_price_ticks(instrument.pk, instrument.price_decimals)
            job = HistoryJob(
                instrument.pk,
                instrument.symbol,
                quote.day,
                end,
                instrument.price_decimals,
                hint=hints[instrument.pk],
                stored=stored,
                quote=quote,
            )
        else:
            start = shift_trading_days(last[instrument.pk], overlap)
            job = HistoryJob(
                instrument.pk, instrument.symbol, start, end, instrument.price_decimals, hint=hints[instrument.pk]
            )
        plan.history.append(job)


def stored_price_ticks(instrument_id: int, decimals: int) -> PriceTicks:
    """The stored raw prices of one instrument as ticks, oldest first (what the API adjusts)."""
    rows = (
        DailyBar.objects.filter(instrument_id=instrument_id)
        .order_by("time")
        .values_list("time", "open", "high", "low", "close")
    )
    scale = Decimal(1).scaleb(decimals)
    days, values = [], []
    for time_value, *prices in rows:
        days.append(time_to_trading_date(time_value))
        values.append([int(price * scale) for price in prices])
    return PriceTicks(days, np.array(values, dtype=np.int64).reshape(-1, 4), decimals)


def write_snapshot(
    items: list[tuple[Instrument, BarRecord]],
    writer: BarWriter,
    recorder: RunRecorder,
    *,
    quarantine: Quarantine | None = None,
) -> None:
    """Write the snapshot's bars in batches (ex-days were sent to history by the plan);
    a ``quarantine`` holds revisions of stored bars that move a price too far. In a dry run
    (the recorder's) each batch is written, counted and rolled back."""
    for offset in range(0, len(items), writer.batch_size):
        batch = items[offset : offset + writer.batch_size]
        with transaction.atomic():
            relax_commit()
            rows = [(instrument.pk, quote) for instrument, quote in batch]
            counts = writer.upsert(quarantine.screen_stored(rows) if quarantine is not None else rows)
            if recorder.dry_run:
                transaction.set_rollback(True)
        _count(recorder, counts, instruments=len(batch))
        recorder.heartbeat()


def _previous_closes(batch: list[tuple[Instrument, BarRecord]]) -> dict[tuple[int, dt.date], Decimal]:
    """Stored close on the trading day before each quote's day (absent after a suspension)."""
    wanted = {(instrument.pk, previous_trading_day(quote.day)): quote.day for instrument, quote in batch}
    times = {trading_date_to_time(day) for _, day in wanted}
    rows = DailyBar.objects.filter(instrument_id__in=[i.pk for i, _ in batch], time__in=times).values_list(
        "instrument_id", "time", "close"
    )
    closes = {}
    for instrument_id, time_value, close in rows:
        day = wanted.get((instrument_id, time_to_trading_date(time_value)))
        if day is not None:
            closes[(instrument_id, day)] = close
    return closes


def check_bars(bars: list[BarRecord]) -> None:
    """Refuse a series the database constraints would refuse, naming the first bad day."""
    for bar in bars:
        if bar.low <= 0 or bar.high < bar.low or bar.volume < 0 or (bar.amount is not None and bar.amount < 0):
            raise BadPayload(
                f"implausible bar on {bar.day}: open={bar.open} high={bar.high} low={bar.low} "
                f"close={bar.close} volume={bar.volume} amount={bar.amount}"
            )


def fetch_history(
    provider: MarketDataProvider,
    job: HistoryJob,
    *,
    build_copy_text: bool,
    rules: BarRules | None = None,
    book: TermsBook | None = None,
) -> Fetched:
    """Runs on a fetcher thread: the requests, then the pure CPU work, off the writer's back.

    Two requests: the raw series (the whole history; only days from ``job.start`` are
    written) and the provider's qfq series of the same days, whose steps against the raw
    prices are the instrument's ex-days (``etfs.sync.steps``). A series of one bar cannot
    hold an ex-day and skips the second request.

    With ``rules`` every bar is validated (``InvalidData`` skips the instrument) and days
    moving beyond the price limit are held back (``Fetched.held``). The ex-days the qfq
    series shows explain their jumps: East Money quotes a raw day's change against the
    previous raw close, so a split day looks like a huge move until its action is known.

    A backfill's terms that qfq leaves open are read from the provider's tables (``book``).
    """
    symbol = parse_symbol(job.symbol)
    if job.stored is not None and job.quote is not None:
        return _snapshot_ex_day(provider, symbol, job, rules)
    findings: Findings | None = None
    if job.new and build_copy_text:
        answer = provider.fetch_plain_daily_bars(symbol, job.start, job.end)
        if isinstance(answer, PlainBars):
            if rules is not None:
                validate_plain(answer, rules)
            raw = PriceTicks.from_text([row[:5] for row in answer.rows], answer.decimals)
            findings = _evidence(provider, symbol, job, raw, book=book)
            rules = _explained(rules, findings, raw.days)
            pairs = [list(pair) for pair in answer.ex_pairs]
            if rules is None or not _suspicious_pairs(pairs, rules, answer, job):
                return Fetched(job, answer, findings, plain_copy_text(job.instrument_id, answer.rows))
            bars = _checked(answer.records(), job.end, rules)
        else:
            bars = _checked(answer.bars, job.end, rules)
        decimals = answer.decimals
    else:  # the whole history: days before ``job.start`` are evidence only, never written
        series = provider.fetch_daily_bars(symbol, None, job.end)
        bars, decimals = _checked(series.bars, job.end, rules), series.decimals
    if findings is None:
        findings = _evidence(provider, symbol, job, PriceTicks.from_bars(bars, decimals), book=book)
        rules = _explained(rules, findings, [bar.day for bar in bars])
    screened = _screened(bars, rules, job)
    first = job.start or dt.date.min
    bars = [bar for bar in screened.bars if bar.day >= first]
    text = copy_text((job.instrument_id, bar) for bar in bars) if job.new and build_copy_text else None
    return Fetched(job, bars, findings, text, [held for held in screened.held if held[0].day >= first])


def _snapshot_ex_day(provider: MarketDataProvider, symbol: Symbol, job: HistoryJob, rules: BarRules | None) -> Fetched:
    """An ex-day the snapshot flagged, the day before stored: two requests, qfq and hfq.

    The raw series is the stored one plus today's quote, so the raw request is spared and the
    two go to the adjusted series: qfq finds the ex-days and their terms, hfq pins what qfq
    leaves open (cash below a 0.01 quote, an odd ratio's last decimals; ``steps.pin_with_hfq``).
    """
    assert job.stored is not None and job.quote is not None
    bars = _checked([job.quote], job.end, rules)
    today = PriceTicks.from_bars(bars, job.decimals)
    raw = PriceTicks(job.stored.days + today.days, np.vstack([job.stored.ticks, today.ticks]), job.decimals)
    findings = _evidence(provider, symbol, job, raw, hfq=True)
    screened = _screened(bars, _explained(rules, findings, raw.days), job)
    return Fetched(job, screened.bars, findings, None, screened.held)


def _explained(rules: BarRules | None, findings: Findings | None, days: list[dt.date]) -> BarRules | None:
    """``rules`` with the ex-days found in the series (each on its first bar) as known ones."""
    if rules is None or findings is None or not (findings.actions or findings.ex_days):
        return rules
    found = set(findings.ex_days)
    for action in findings.actions:
        found.add(action.ex_date)
        found.update(day for day in days[bisect.bisect_left(days, action.ex_date) :][:1])
    return dataclasses.replace(rules, action_days=frozenset(rules.action_days) | found)


def _evidence(
    provider: MarketDataProvider,
    symbol: Symbol,
    job: HistoryJob,
    raw: PriceTicks,
    *,
    hfq: bool = False,
    book: TermsBook | None = None,
) -> Findings | None:
    """The ex-days the provider's qfq series shows over ``raw``'s days (None: no evidence).

    Stored actions dated after ``job.end`` apply to every compared day; stored ones inside
    are kept where they still explain the series. If the qfq request fails, a snapshot
    hint is kept as unconfirmed, and stored actions stay as they are.

    The provider's hfq series is read too, and the terms pinned with it, when ``hfq`` (the
    snapshot path's ex-day) or when a stored instrument's series shows an ex-day not stored
    yet (a gap holding an ex-day: the one case that reads raw, qfq and hfq). A backfill's two
    requests stay raw and qfq: what qfq leaves open there comes from the provider's tables
    (``book``, ``etfs.sync.announced``), shared by every instrument of the run.
    """
    fallback = Findings([job.hint], Source.SNAPSHOT) if job.hint is not None else None
    if len(raw) < 2:
        return fallback
    later = [a for a in job.known if a.ex_date > job.end]
    qfq = _adjusted_series(provider, symbol, job, raw, Adjust.QFQ, "ex-days left as stored")
    if qfq is None:
        return fallback
    outliers: list[dt.date] = []
    try:
        actions = find_actions(
            raw, qfq, later=later, known=[a for a in job.known if a.ex_date <= job.end], outliers=outliers
        )
    except SeriesMismatch as exc:
        # The raw bars are right whatever the adjustments: they are stored, nothing is invented, the
        # stored actions stay, and the run names the instrument (``--verify-adjustments`` re-reads it).
        reason = f"adjustments not updated: the qfq series does not fit the raw one ({exc}); raw bars stored"
        found = fallback or Findings([], Source.PROVIDER)
        return dataclasses.replace(found, unexplained=reason, ex_days=tuple(step_days(raw, qfq)))
    if outliers:
        logger.warning("%s: raw and qfq prices disagree on %s alone (a bad row, not an ex-day)", job.symbol, outliers)
    if later:  # already known: only what lies inside the range is news
        actions = [a for a in actions if a.ex_date <= job.end]
    elif hfq or (not job.new and _news(actions, job.known)):
        actions = _pinned(provider, symbol, job, raw, qfq, actions)
    elif job.new and book is not None:
        terms = book.terms_for(symbol.code, actions)
        if terms is not None:
            actions, tabled = pin_with_tables(raw, qfq, actions, terms)
            sources = {day: str(Source.TABLE) for day in tabled}
            return Findings(actions, Source.PROVIDER, window=(raw.days[0], raw.days[-1]), sources=sources)
    return Findings(actions, Source.PROVIDER, window=(raw.days[0], raw.days[-1]))


def _news(actions: list[Action], known: Iterable[Action]) -> bool:
    """Whether the series shows an ex-day that is not stored yet."""
    days = {a.ex_date for a in known}
    return any(a.ex_date not in days for a in actions)


def _pinned(
    provider: MarketDataProvider,
    symbol: Symbol,
    job: HistoryJob,
    raw: PriceTicks,
    qfq: PriceTicks,
    actions: list[Action],
) -> list[Action]:
    """``actions`` pinned against the provider's hfq series too (unchanged if it cannot be read)."""
    if not actions:
        return actions
    hfq = _adjusted_series(provider, symbol, job, raw, Adjust.HFQ, "terms as the qfq series gives them")
    return actions if hfq is None else pin_with_hfq(raw, qfq, hfq, actions)


def _adjusted_series(
    provider: MarketDataProvider, symbol: Symbol, job: HistoryJob, raw: PriceTicks, adjust: Adjust, fallback: str
) -> PriceTicks | None:
    """The provider's ``adjust`` series over ``raw``'s days, or None (logged with ``fallback``, what is
    done instead) when it cannot be read or is quoted to other decimals than ``raw``, so cannot be
    compared tick for tick. ``ProviderUnavailable`` propagates: the host is down, not this series."""
    name = adjust.value
    try:
        series = provider.fetch_price_ticks(symbol, raw.days[0], None, adjust)
    except ProviderUnavailable:
        raise
    except ProviderError as exc:
        logger.warning("%s: no %s series, %s: %s", job.symbol, name, fallback, exc)
        return None
    if series.decimals != raw.decimals:
        logger.warning(
            "%s: %s quoted to %d places, raw to %d: %s", job.symbol, name, series.decimals, raw.decimals, fallback
        )
        return None
    return series


def _checked(bars: list[BarRecord], end: dt.date, rules: BarRules | None = None) -> list[BarRecord]:
    bars = [bar for bar in bars if bar.day <= end]
    if rules is None:
        check_bars(bars)
    else:
        validate_bars(bars, rules)
    return bars


def _screened(bars: list[BarRecord], rules: BarRules | None, job: HistoryJob) -> Screened:
    """The move check (``validation.screen_moves``); a whole history starts at the listing."""
    if rules is None:
        return Screened(bars, [])
    return screen_moves(bars, rules, from_listing=job.start is None and job.new)


def _suspicious_pairs(pairs: list[list[BarRecord]], rules: BarRules, answer: PlainBars, job: HistoryJob) -> bool:
    """Whether a candidate pair of the bulk-loading lane fails the move check (then the whole
    answer takes the exact path, which holds the day); a listing's first sessions are free."""
    free = {row[0] for row in answer.rows[:UNLIMITED_FIRST_BARS]} if job.start is None else set()
    return any(screen_moves(pair, rules).held for pair in pairs if pair[-1].day.isoformat() not in free)


def _count(recorder: RunRecorder, counts: WriteCounts, *, instruments: int) -> None:
    recorder.add(
        bars_inserted=counts.inserted,
        bars_updated=counts.updated,
        bars_unchanged=counts.unchanged,
        instruments_synced=instruments,
    )


class HistorySync:
    """Fetch history on ``workers`` threads; write finished instruments from this thread.

    At most ``2 × workers`` requests are in flight or waiting to be written, which bounds
    memory during a backfill (a 20-year series is ~5,000 bars).
    """

    def __init__(
        self,
        provider: MarketDataProvider,
        writer: BarWriter,
        recorder: RunRecorder,
        *,
        workers: int,
        progress: Progress | None = None,
        rules: dict[int, BarRules] | None = None,
        quarantine: Quarantine | None = None,
        book: TermsBook | None = None,
    ) -> None:
        self.rules = rules or {}
        self.book = book
        self.quarantine = quarantine
        self.provider = provider
        self.writer = writer
        self.recorder = recorder
        self.workers = max(1, workers)
        self.progress = progress
        self.done = 0
        self.write_seconds = 0.0

    def run(self, jobs: list[HistoryJob], done_before: int = 0, total: int | None = None) -> None:
        """Raises ``ProviderUnavailable`` (after writing what was fetched) when the host refuses."""
        total = total if total is not None else len(jobs)
        self.done = done_before
        started = time.monotonic()
        pending: list[Fetched] = []
        self.build_copy_text = self.writer.can_copy
        last_flush = time.monotonic()
        queue = iter(jobs)
        in_flight: dict[Future, HistoryJob] = {}
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="etfsync-fetch")
        interrupted = True
        with writer_first_interpreter():
            try:
                self._fill(pool, queue, in_flight)
                while in_flight:
                    finished, _ = wait(in_flight, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
                    self.recorder.heartbeat()  # also while every fetcher waits on a slow host
                    for future in finished:
                        job = in_flight.pop(future)
                        try:
                            pending.append(future.result())
                        except ProviderUnavailable:
                            raise
                        except Exception as exc:  # per instrument: record, continue
                            message = str(exc) if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
                            self.recorder.error(job.symbol, message)
                            self.done += 1
                    self._fill(pool, queue, in_flight)
                    rows = sum(len(fetched.bars) for fetched in pending)
                    if pending and (
                        rows >= self.writer.batch_size
                        or not in_flight
                        or time.monotonic() - last_flush >= FLUSH_SECONDS
                    ):
                        self._flush(pending)
                        pending = []
                        last_flush = time.monotonic()
                        if self.progress:
                            self.progress("history", self.done, total)
                interrupted = False
            except ProviderUnavailable:
                # The host refuses everything now: keep what was fetched, then stop the run.
                if pending:
                    self._flush(pending)
                raise
            finally:
                # Leaving early (interrupted, host refusing): do not wait for requests in flight.
                pool.shutdown(wait=not interrupted, cancel_futures=True)
                logger.info(
                    "history: %d of %d instruments done in %.1fs, %.1fs of it writing",
                    self.done - done_before,
                    len(jobs),
                    time.monotonic() - started,
                    self.write_seconds,
                )

    def _fill(self, pool: ThreadPoolExecutor, queue: Iterable[HistoryJob], in_flight: dict) -> None:
        while len(in_flight) < 2 * self.workers:
            job = next(queue, None)  # type: ignore[call-overload]
            if job is None:
                return
            rules = self.rules.get(job.instrument_id)
            in_flight[
                pool.submit(
                    fetch_history, self.provider, job, build_copy_text=self.build_copy_text, rules=rules, book=self.book
                )
            ] = job

    def _flush(self, pending: list[Fetched]) -> None:
        """Write complete instruments in one transaction: all of an instrument's bars or none."""
        started = time.monotonic()
        new = [f for f in pending if f.job.new]
        known = [f for f in pending if not f.job.new]
        with transaction.atomic():
            relax_commit()
            counts = self.writer.insert_new(
                lambda: [(f.job.instrument_id, bar) for f in new for bar in f.records],
                _joined_copy_text(new),
                count=sum(len(f.bars) for f in new),
                instrument_ids={f.job.instrument_id for f in new},
            )
            rows = [(f.job.instrument_id, bar) for f in known for bar in f.records]
            counts += self.writer.upsert(self.quarantine.screen_stored(rows) if self.quarantine else rows)
            if self.quarantine is not None:
                for fetched in pending:
                    self.quarantine.hold_moves(fetched.job.instrument_id, fetched.held)
            record_actions({f.job.instrument_id: f.findings for f in pending if f.findings is not None})
            if self.book is not None:
                self.book.save()
            for fetched in pending:
                if fetched.findings is not None and fetched.findings.unexplained:
                    self.recorder.error(fetched.job.symbol, fetched.findings.unexplained)
            _set_list_dates(pending)
        _count(self.recorder, counts, instruments=len(pending))
        self.done += len(pending)
        self.recorder.heartbeat()
        self.write_seconds += time.monotonic() - started


@contextmanager
def writer_first_interpreter() -> Iterator[None]:
    """The interpreter tuned for the history phase (fetcher threads, one writer), undone on exit.

    Fetchers parse on the CPU: a short switch interval hands the GIL back to the writer soon
    after each query. A full garbage collection walks every object of the process (Django's
    included) while all threads wait: ~65 ms, after which the queued requests leave as one
    burst that a host counting per second answers with 429 (measured). What exists at the
    start lives through the run anyway: ``gc.freeze`` sets it aside, so collections walk only
    what the run allocates.
    """
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, WRITER_SWITCH_INTERVAL))
    gc.freeze()
    try:
        yield
    finally:
        sys.setswitchinterval(switch_interval)
        gc.unfreeze()


def relax_commit() -> None:
    """Do not wait for the WAL flush at commit (PostgreSQL): a crash can lose the last
    moment's commits, never consistency, and the next run re-fetches what is missing."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _joined_copy_text(fetched: list[Fetched]) -> str | None:
    """The ``COPY`` text of every answer, or None when any took the exact path (no text)."""
    texts = [f.copy_text for f in fetched if f.copy_text is not None]
    return "".join(texts) if len(texts) == len(fetched) else None


def _set_list_dates(pending: list[Fetched]) -> None:
    """A whole-history fetch tells the first trading day, when the list did not."""
    first_days = {f.job.instrument_id: f.first_day for f in pending if f.job.start is None and f.first_day}
    if not first_days:
        return
    changed = [
        instrument
        for instrument in Instrument.objects.filter(pk__in=list(first_days), list_date__isnull=True)
        if instrument.apply_provider_values({"list_date": first_days[instrument.pk]})
    ]
    Instrument.objects.bulk_update(changed, ["list_date"])
