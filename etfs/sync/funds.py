"""The fund-data phase of the ETF sync: the universe, facts, NAV, on-exchange shares, closing IOPV.

It runs after the prices, against separate hosts with their own circuit breakers, and
every step is independent: a fund host refusing requests is recorded in the run (which
ends ``partial``) and leaves prices, and the other fund steps, alone — and a price host
refusing requests leaves the fund data syncing.

- **Universe** (``reconcile_universe``, during the list sync): East Money's ETF boards have
  missed gold, commodity and bond ETFs, so SSE's and SZSE's own fund lists are read too and
  an ETF on any of them is ours. Its exchange is the list's it came from, never inferred
  from the code. The differences go to ``SyncRun.fund_report["universe"]``. If an exchange's
  list cannot be read, the ETFs only that list had stay active (not a delisting).
- **Facts** (``FundProfile``): each fund's profile page when older than
  ``FUNDDATA["FACTS_MAX_AGE_DAYS"]`` (weekly), plus the tracking index code from SSE's list
  and the listing date from either exchange's list; curated fields stay locked.
- **NAV**: one bulk request gives every fund's latest published NAV. A fund whose stored
  history reaches the trading day before that NAV's date takes it from there (no request of
  its own); a new fund, a gap (a missed day, a cross-border fund publishing two days at once)
  or ``--full`` fetches the fund's whole history in one request and stores what differs.
  Late publication needs nothing special: a fund's latest NAV is stored when it appears.
- **Shares**: SSE answers one date for every SH ETF, SZSE a window of up to six months for
  every SZ ETF; cursors (``FundDataCursor``) remember the last day that had rows, so the daily
  update is one request per exchange and a day not yet published is asked for again.
- **Closing snapshot**: IOPV (``f441``) and East Money's premium (``f402``) from the list
  snapshot the price sync already fetched.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Max, Min
from psycopg2.extras import execute_values

from etfs.calendar import previous_trading_day, shift_trading_days, trading_days
from etfs.funds import FundDataCursor, FundProfile, category_from_type
from etfs.models import Instrument, SyncRun
from etfs.providers.base import ListingRecord
from etfs.providers.errors import ProviderError, ProviderUnavailable
from etfs.providers.funds import ExchangeFund, FundDataProvider, LatestNav, NavRecord, SharesRecord
from etfs.sync.runs import RunRecorder
from prices.fund_models import FundDay
from prices.models import DailyBar, FundNav, FundQuote, FundShares, time_to_trading_date, trading_date_to_time
from prices.writer import WriteCounts

logger = logging.getLogger(__name__)

EXCHANGE_LISTS = (("SH", "SSE"), ("SZ", "SZSE"))
SZSE_WINDOW_DAYS = 180
SHARES_BATCH_ROWS = 20_000  # SZSE answers at most six months per request
EXCHANGE_ONLY = "exchange"  # Instrument.provider_fields["universe"] of an ETF East Money does not list


def fund_sync_enabled(kind: str) -> bool:
    return kind == SyncRun.Kind.ETFS and bool(settings.FUNDDATA.get("ENABLED"))


# --- writing per-fund daily rows (counted as bars are: prices.writer.WriteCounts) -----------------
def upsert_days(
    model: type[FundDay], fields: tuple[str, ...], rows: Iterable[tuple[int, dt.date, tuple]]
) -> WriteCounts:
    """Insert new (instrument, day) rows, update those whose values differ, count the rest.

    One transaction; the stored rows of the instruments and date range involved are read
    once and compared in Python (the same on SQLite, PostgreSQL and TimescaleDB).
    """
    by_key = {(iid, day): values for iid, day, values in rows}
    counts = WriteCounts()
    if not by_key:
        return counts
    ids = {iid for iid, _ in by_key}
    days = [day for _, day in by_key]
    stored = model.objects.filter(instrument_id__in=ids).between(min(days), max(days))
    existing = {(obj.instrument_id, obj.trading_date): obj for obj in stored}
    new: list[tuple] = []
    changed: list[FundDay] = []
    for (iid, day), values in by_key.items():
        obj = existing.get((iid, day))
        if obj is None:
            new.append((iid, trading_date_to_time(day), *values))
        elif any(getattr(obj, name) != value for name, value in zip(fields, values, strict=True)):
            for name, value in zip(fields, values, strict=True):
                setattr(obj, name, value)
            changed.append(obj)
        else:
            counts.unchanged += 1
    with transaction.atomic():
        insert_rows(model, fields, new)
        if changed:
            model.objects.bulk_update(changed, list(fields), batch_size=500)
    counts.inserted, counts.updated = len(new), len(changed)
    return counts


def insert_rows(model: type[FundDay], fields: tuple[str, ...], rows: list[tuple]) -> None:
    """``INSERT`` ``(instrument_id, time, *fields)`` rows in a few statements, without model objects.

    A backfill writes millions of NAV and shares rows; ``bulk_create`` spent most of its time
    building and compiling model instances. PostgreSQL gets multi-row ``VALUES`` pages
    (``execute_values``), SQLite one ``executemany``; values are adapted as the ORM adapts them.
    """
    if not rows:
        return
    ops = connection.ops
    stored = {field.name: field for field in model._meta.concrete_fields}
    columns = ["instrument_id", "time", *(_column(stored[name]) for name in fields)]
    decimals = {
        index + 2: (field.max_digits, field.decimal_places)
        for index, field in enumerate(stored[name] for name in fields)
        if isinstance(field, models.DecimalField)
    }

    def adapt(row: tuple) -> tuple:
        values = list(row)
        values[1] = ops.adapt_datetimefield_value(values[1])
        for index, (digits, places) in decimals.items():
            values[index] = ops.adapt_decimalfield_value(values[index], digits, places)
        return tuple(values)

    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute_values(
                cursor.cursor, f"INSERT INTO {table} ({names}) VALUES %s", [adapt(r) for r in rows], page_size=5000
            )
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", [adapt(r) for r in rows])


def _column(stored: models.Field) -> str:
    if stored.column is None:  # a concrete field always has one
        raise ValueError(f"{stored.name} has no column")
    return stored.column


# --- universe -------------------------------------------------------------------------------------
@dataclass
class Universe:
    """The exchanges' ETF lists next to East Money's, and what differs."""

    funds: dict[str, ExchangeFund] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # exchanges whose list could not be read
    only_exchange: list[str] = field(default_factory=list)
    only_eastmoney: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "only_exchange": self.only_exchange,
            "only_eastmoney": self.only_eastmoney,
            "unread_lists": self.failed,
            "errors": self.errors,
        }


def reconcile_universe(
    provider: FundDataProvider, listings: dict[str, ListingRecord]
) -> tuple[dict[str, ListingRecord], Universe]:
    """East Money's ETF list merged with SSE's and SZSE's: every ETF on any of them."""
    universe = Universe(counts={"eastmoney": len(listings)})
    for exchange, host in EXCHANGE_LISTS:
        fetch: Callable[[], list[ExchangeFund]] = provider.sse_funds if exchange == "SH" else provider.szse_funds
        try:
            funds = fetch()
        except ProviderError as exc:
            universe.failed.append(exchange)
            universe.errors.append(f"{host} fund list: {exc}")
            continue
        universe.counts[host.lower()] = len(funds)
        universe.funds.update({fund.symbol.canonical: fund for fund in funds})
    merged = dict(listings)
    for symbol, fund in sorted(universe.funds.items()):
        if symbol not in listings:
            universe.only_exchange.append(symbol)
            merged[symbol] = ListingRecord(
                symbol=fund.symbol, name=fund.name, is_etf=True, asset_type="etf", raw={"universe": EXCHANGE_ONLY}
            )
    universe.only_eastmoney = sorted(
        symbol
        for symbol, record in listings.items()
        if record.symbol.exchange not in universe.failed and symbol not in universe.funds
    )
    if universe.failed:  # a list we could not read is no evidence of a delisting
        kept = Instrument.objects.etfs().active().filter(exchange__in=universe.failed).exclude(symbol__in=list(merged))
        for instrument in kept:
            if (instrument.provider_fields or {}).get("universe") == EXCHANGE_ONLY:
                merged[instrument.symbol] = ListingRecord(
                    symbol=instrument.parsed_symbol,
                    name=instrument.name,
                    is_etf=True,
                    asset_type=instrument.asset_type,
                    decimals=instrument.price_decimals,
                    raw={"universe": EXCHANGE_ONLY},
                )
    return merged, universe


def apply_universe(universe: Universe, listings: dict[str, ListingRecord]) -> None:
    """After the list is applied: mark exchange-only ETFs, take listing dates and index codes."""
    instruments = Instrument.objects.etfs().filter(symbol__in=list(listings))
    profiles = {p.instrument_id: p for p in FundProfile.objects.filter(instrument__in=instruments)}
    for instrument in instruments:
        fields = dict(instrument.provider_fields or {})
        exchange_only = (listings[instrument.symbol].raw or {}).get("universe") == EXCHANGE_ONLY
        changed = []
        if exchange_only != (fields.get("universe") == EXCHANGE_ONLY):
            if exchange_only:
                fields["universe"] = EXCHANGE_ONLY
            else:
                fields.pop("universe", None)
            instrument.provider_fields = fields
            changed.append("provider_fields")
        fund = universe.funds.get(instrument.symbol)
        if fund is not None and fund.list_date is not None:
            changed += instrument.apply_provider_values({"list_date": fund.list_date})
        if changed:
            instrument.save(update_fields=[*changed, "updated_at"])
        if fund is None:
            continue
        profile = profiles.get(instrument.id) or FundProfile(instrument=instrument)
        values: dict[str, Any] = {"tracking_index_code": fund.index_code}
        if not profile.tracking_index_name:  # the profile page's name wins once read
            values["tracking_index_name"] = fund.index_name
        if profile.apply_provider_values(values) or profile.pk is None:
            profile.save()


# --- the phase ------------------------------------------------------------------------------------
class FundSync:
    """The fund steps of one ETF run; each records its own errors and leaves the others running."""

    def __init__(
        self,
        provider: FundDataProvider,
        recorder: RunRecorder,
        *,
        final_day: dt.date,
        now: dt.datetime,
        full: bool = False,
        workers: int = 4,
        symbols: list[str] | None = None,
        listings: dict[str, ListingRecord] | None = None,
    ) -> None:
        self.provider = provider
        self.recorder = recorder
        self.final_day = final_day
        self.now = now
        self.full = full
        self.workers = max(1, workers)
        self.symbols = symbols
        self.listings = listings
        self.report: dict[str, Any] = recorder.run.fund_report if recorder.run.fund_report else {}
        recorder.run.fund_report = self.report
        self.errors: list[dict[str, str]] = self.report.setdefault("errors", [])

    def instruments(self) -> list[Instrument]:
        queryset = Instrument.objects.etfs()
        if self.symbols:
            return list(queryset.filter(symbol__in=self.symbols))
        return list(queryset.active())

    def run(self) -> None:
        requests_before = self.provider.stats.requests
        instruments = self.instruments()
        for name, step in (
            ("quotes", self.store_quotes),
            ("facts", self.sync_facts),
            ("nav", self.sync_nav),
            ("shares", self.sync_shares),
        ):
            try:
                step(instruments)
            except ProviderError as exc:
                self.error("", f"{name}: {exc}")
            self.recorder.heartbeat()
        self.report["requests"] = self.report.get("requests", 0) + self.provider.stats.requests - requests_before
        if self.errors:
            first = self.errors[0]
            self.recorder.error(
                "",
                f"fund data: {len(self.errors)} error(s); first: {first['symbol'] or 'run'}: {first['error']}",
            )

    def error(self, symbol: str, message: str) -> None:
        logger.warning("fund data %s: %s", symbol or "run", message)
        self.errors.append({"symbol": symbol, "error": message})

    # --- closing snapshot -------------------------------------------------------------------------
    def store_quotes(self, instruments: list[Instrument]) -> None:
        if not self.listings:
            return
        ids = {i.symbol: i.id for i in instruments}
        rows = []
        for symbol, record in self.listings.items():
            if symbol not in ids or record.quote is None:
                continue
            iopv = _decimal_or_none(record.raw.get("f441"))
            premium = _decimal_or_none(record.raw.get("f402"))
            if iopv is None and premium is None:
                continue
            rows.append((ids[symbol], record.quote.day, (iopv, premium)))
        self.report["quotes"] = asdict(upsert_days(FundQuote, ("iopv", "em_premium_pct"), rows))

    # --- facts ------------------------------------------------------------------------------------
    def sync_facts(self, instruments: list[Instrument]) -> None:
        max_age = dt.timedelta(days=settings.FUNDDATA.get("FACTS_MAX_AGE_DAYS", 7))
        profiles = _profiles(instruments)
        stale = [i for i in instruments if self.full or profiles[i.id].facts_are_stale(self.now, max_age)]
        refreshed = 0
        for instrument, facts in self._fetch_each(stale, self.provider.fund_facts, "facts"):
            profile = profiles[instrument.id]
            profile.apply_provider_values(
                {
                    "fund_type": facts.fund_type,
                    "category": category_from_type(facts.fund_type, instrument.name, facts.tracking_index_name),
                    "fund_company": facts.company,
                    "custodian": facts.custodian,
                    "inception_date": facts.inception,
                    "management_fee": facts.management_fee,
                    "custody_fee": facts.custody_fee,
                    "tracking_index_name": facts.tracking_index_name,
                }
            )
            profile.facts_fetched_at = self.now
            profile.save()
            refreshed += 1
        self.report["facts"] = {"refreshed": refreshed, "stale": len(stale)}

    # --- NAV --------------------------------------------------------------------------------------
    def sync_nav(self, instruments: list[Instrument]) -> None:
        counts = WriteCounts()
        last = dict(
            FundNav.objects.filter(instrument__in=instruments)
            .values("instrument_id")
            .annotate(last=Max("time"))
            .values_list("instrument_id", "last")
        )
        history: list[Instrument] = []
        daily: list[tuple[int, dt.date, tuple]] = []
        latest: dict[str, LatestNav] = {}
        if not self.full and any(iid in last for iid in (i.id for i in instruments)):
            latest = {row.code: row for row in self.provider.latest_navs()}
        for instrument in instruments:
            stored = last.get(instrument.id)
            stored_day = time_to_trading_date(stored) if stored else None
            row = latest.get(instrument.code)
            if self.full or stored_day is None:
                history.append(instrument)
            elif row is None:
                continue  # the host lists no NAV for it (any more)
            elif row.day <= stored_day or previous_trading_day(row.day) <= stored_day:
                daily.append((instrument.id, row.day, (row.unit_nav, row.accumulated_nav)))
            else:
                history.append(instrument)  # a gap: fetch the whole series once
        counts += upsert_days(FundNav, ("unit_nav", "accumulated_nav"), daily)
        for instrument, records in self._fetch_each(history, self.provider.nav_history, "NAV history"):
            counts += upsert_days(FundNav, ("unit_nav", "accumulated_nav"), _nav_rows(instrument.id, records))
            self.recorder.heartbeat()
        self.report["nav"] = {**asdict(counts), "from_bulk": len(daily), "history_requests": len(history)}

    # --- shares -----------------------------------------------------------------------------------
    def sync_shares(self, instruments: list[Instrument]) -> None:
        report = self.report.setdefault("shares", {})
        for exchange, host in EXCHANGE_LISTS:
            members = [i for i in instruments if i.exchange == exchange]
            if not members:
                continue
            try:
                report[host.lower()] = self._sync_exchange_shares(exchange, members)
            except ProviderError as exc:
                self.error("", f"{host} shares: {exc}")

    def _sync_exchange_shares(self, exchange: str, members: list[Instrument]) -> dict[str, Any]:
        cursor = FundDataCursor.objects.filter(name=f"shares:{exchange}").first()
        profiles = _profiles(members)
        unread = [i for i in members if profiles[i.id].shares_since is None or self.full]
        starts = [cursor.day + dt.timedelta(days=1 if exchange == "SH" else 0)] if cursor else []
        starts += _first_days(unread).values()
        if not starts:
            return {"requests": 0}
        start = min(starts)
        limit = settings.FUNDDATA.get("SHARES_BACKFILL_DAYS") or 0
        if limit:
            start = max(start, shift_trading_days(self.final_day, limit))
        if start > self.final_day:
            return {"requests": 0, "read_to": cursor.day.isoformat() if cursor else None}
        ids = dict(Instrument.objects.etfs().filter(exchange=exchange).values_list("code", "id"))
        counts = WriteCounts()
        read_to: dt.date | None = None
        requests = 0
        pending: list[tuple[int, dt.date, tuple]] = []
        for records in self._share_reports(exchange, start):
            requests += 1
            pending += [(ids[r.symbol.code], r.day, (r.shares,)) for r in records if r.symbol.code in ids]
            if records:
                read_to = max(read_to or records[0].day, max(r.day for r in records))
            if len(pending) >= SHARES_BATCH_ROWS:  # one transaction per batch of days, not per day
                counts += upsert_days(FundShares, ("shares",), pending)
                pending = []
                self.recorder.heartbeat()
        counts += upsert_days(FundShares, ("shares",), pending)
        if read_to is not None:
            if cursor is None or read_to > cursor.day:
                FundDataCursor.objects.update_or_create(name=f"shares:{exchange}", defaults={"day": read_to})
            FundProfile.objects.filter(pk__in=[profiles[i.id].pk for i in unread]).update(shares_since=start)
        return {**asdict(counts), "requests": requests, "from": start.isoformat(), "read_to": str(read_to or "")}

    def _share_reports(self, exchange: str, start: dt.date) -> Iterable[list[SharesRecord]]:
        if exchange == "SH":  # one request per day: fetched on the pool, in date order
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sse-shares") as pool:
                answers = [pool.submit(self.provider.sse_shares, day) for day in trading_days(start, self.final_day)]
                try:
                    for answer in answers:
                        yield answer.result()
                finally:
                    for answer in answers:  # on an error, cancels the days not yet asked for
                        answer.cancel()
            return
        window_start = start
        while window_start <= self.final_day:
            window_end = min(window_start + dt.timedelta(days=SZSE_WINDOW_DAYS - 1), self.final_day)
            yield self.provider.szse_shares(window_start, window_end)
            window_start = window_end + dt.timedelta(days=1)

    # --- helpers ----------------------------------------------------------------------------------
    def _fetch_each(self, instruments: list[Instrument], fetch: Callable[[Any], Any], what: str):
        """``(instrument, answer)`` per instrument, fetched on a thread pool, yielded in this thread.

        A refused host (``ProviderUnavailable``) stops the step; any other error is the fund's.
        """
        if not instruments:
            return
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="funds") as pool:
            futures = {pool.submit(fetch, i.parsed_symbol): i for i in instruments}
            try:
                for future in as_completed(futures):
                    instrument = futures[future]
                    try:
                        answer = future.result()
                    except ProviderUnavailable:
                        raise
                    except ProviderError as exc:
                        self.error(instrument.symbol, f"{what}: {exc}")
                        continue
                    yield instrument, answer
            except ProviderUnavailable:
                for future in futures:
                    future.cancel()
                raise


def _decimal_or_none(raw: Any) -> Decimal | None:
    if raw in (None, "", "-"):
        return None
    try:
        return Decimal(str(raw))
    except ArithmeticError:
        return None


def _nav_rows(instrument_id: int, records: list[NavRecord]) -> list[tuple[int, dt.date, tuple]]:
    return [(instrument_id, r.day, (r.unit_nav, r.accumulated_nav)) for r in records]


def _profiles(instruments: list[Instrument]) -> dict[int, FundProfile]:
    """Each instrument's FundProfile, created empty where missing."""
    profiles = {p.instrument_id: p for p in FundProfile.objects.filter(instrument__in=instruments)}
    missing = [FundProfile(instrument=i) for i in instruments if i.id not in profiles]
    if missing:
        FundProfile.objects.bulk_create(missing, batch_size=500, ignore_conflicts=True)
        profiles = {p.instrument_id: p for p in FundProfile.objects.filter(instrument__in=instruments)}
    return profiles


def _first_days(instruments: list[Instrument]) -> dict[int, dt.date]:
    """Where a fund's shares history starts: its listing date, else its first bar or NAV."""
    days = {i.id: i.list_date for i in instruments if i.list_date}
    unknown = [i.id for i in instruments if not i.list_date]
    for model in (DailyBar, FundNav):
        if not unknown:
            break
        first = model.objects.filter(instrument_id__in=unknown).values("instrument_id").annotate(first=Min("time"))
        for row in first:
            days.setdefault(row["instrument_id"], time_to_trading_date(row["first"]))
        unknown = [iid for iid in unknown if iid not in days]
    return days
