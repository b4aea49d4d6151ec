"""The simulated market: deterministic instruments and daily bars, the truth tests compare with.

Everything follows from ``SimConfig.seed``: the same seed gives the same instruments, bars
and corporate actions in every run. Instruments cycle through the situations a sync must
survive: cash distributions, share splits and conversions at odd ratios (real: 159919 at
1.110680861), often with no trading on the conversion day, suspended days, late listings
and delistings; ``SimConfig.scheduled`` adds actions on chosen days. Adjusted series are
computed the way East Money computes them (cash additively, splits multiplicatively,
rounded half-up once), independently of ``prices.adjustments``, so tests can check one
against the other. As on the real host, history quotes each day's change against the
previous *raw* close, ex-days included; only the list's ``f18`` (``quote``) shows the
ex-reference price on the ex-day.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from etfs.calendar import SHANGHAI
from etfs.providers.base import BarRecord
from etfs.simulator.adjust import SimAction, hfq_price, qfq_price, round_half_up
from etfs.simulator.sessions import trading_days  # the host's own calendar, not the stored one
from etfs.simulator.universe import ETFS, EXCHANGE_ONLY_ETFS, STOCKS, stock_tags
from etfs.symbols import EASTMONEY_MARKET, Symbol, classify_code, parse_symbol

ETF_FEATURES = ("distribution", "split", "suspended", "late", "delisted")
STOCK_FEATURES = ("distribution", "suspended", "split", "late", "delisted")
ETF_SPLIT_RATIOS = (Decimal(2), Decimal(3), Decimal(4), Decimal("0.5"))
# Share conversions (the fund's units re-based to its NAV): odd ratios, no trading that day.
ETF_CONVERSION_RATIOS = (Decimal("1.110680861"), Decimal("0.380231127"), Decimal("3.834928"))
STOCK_SPLIT_RATIOS = (Decimal("1.3"), Decimal("1.5"), Decimal(2))
REVISABLE = ("open", "high", "low", "close", "volume", "amount")
CENT = Decimal("0.01")
# Bars are generated this far past today; moving today further regenerates identical history.
HORIZON = dt.timedelta(days=60)


def _default_today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


REAL_ETF_CODES = frozenset(code for code, *_ in ETFS)


@dataclass
class SimConfig:
    """What to simulate (read at start) and the network switches (read on every request)."""

    n_etfs: int = 20
    n_stocks: int = 10
    years: int = 3
    today: dt.date = field(default_factory=_default_today)
    seed: int = 1
    # Switches, live: change them on a running simulator.
    latency: float = 0.0  # seconds added to every answer
    fail_rate: float = 0.0  # share of requests answered 500/502/503
    garbage_rate: float = 0.0  # share answered 200 with truncated JSON, an HTML page or nothing
    hang_rate: float = 0.0  # share that hang for ``hang_seconds`` (longer than the client's timeout)
    hang_seconds: float = 30.0
    drop_rate: float = 0.0  # share whose connection is closed without an answer (an IP ban)
    rps_limit: float = 0.0  # requests per second above which the answer is 429 + Retry-After
    # Poisoned answers (``etfs.simulator.poison``): names of the lies to tell, and about whom.
    poison: tuple[str, ...] = ()
    poison_symbol: str = ""  # "" = the first listed ETF quoted on the snapshot day
    # Extra corporate actions on chosen days (read at start), e.g. for ex-days during a test.
    scheduled: tuple[ScheduledAction, ...] = ()
    # ETFs only the exchanges list (East Money's ETF boards miss them, as they missed gold,
    # commodity and bond ETFs in 2024): up to ``len(EXCHANGE_ONLY_ETFS)``, added after n_etfs.
    exchange_only_etfs: int = 0
    # Hosts answering 503 to everything, live: "eastmoney" (clist, kline), "tencent",
    # "eastmoney_fund" (NAV pages, rank list, profile pages), "sse", "szse", and the tables of
    # announced terms: "eastmoney_fund_splits" (dt=9), "eastmoney_datacenter" (stock dividends).
    outages: set[str] = field(default_factory=set)
    # The fund split table also lists ~150 funds a year the simulator does not (as the real one
    # lists every open-end fund): False leaves only the simulated ETFs' rows.
    table_filler: bool = True


@dataclass(frozen=True)
class ScheduledAction:
    """An action on ``ex_date`` for the instrument with ``code``: cash as a share of the price
    (rounded to 0.001 CNY), a split ratio, and whether the instrument trades that day."""

    code: str
    ex_date: dt.date
    cash_share: Decimal = Decimal(0)
    split_ratio: Decimal = Decimal(1)
    trades: bool = True


@dataclass(frozen=True)
class SimInstrument:
    """One simulated instrument; ``actions`` holds those with ``ex_date`` up to the market's today."""

    symbol: Symbol
    name: str
    is_etf: bool
    asset_type: str
    decimals: int
    list_date: dt.date
    delist_date: dt.date | None
    actions: tuple[SimAction, ...]
    feature: str
    tags: frozenset[str]
    start_price: Decimal
    float_shares: int

    @property
    def market(self) -> int:
        return EASTMONEY_MARKET[self.symbol.exchange]


@dataclass
class _Path:
    """The generated raw bars of one instrument up to the horizon (before revisions)."""

    rows: list[tuple[dt.date, Decimal, Decimal, Decimal, Decimal, int, Decimal]]
    actions: tuple[SimAction, ...]
    suspended: frozenset[dt.date]

    @functools.cached_property
    def days(self) -> list[dt.date]:
        return [row[0] for row in self.rows]


class SimMarket:
    """Instruments and bars as of ``today``; ``set_today`` moves time, ``revise_bar`` edits history."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.seed = config.seed
        self._lock = threading.RLock()
        self._today = config.today
        self.start = config.today - dt.timedelta(days=round(365.25 * config.years))
        anchor_days = trading_days(self.start, config.today)
        if len(anchor_days) < 20:
            raise ValueError("the simulated history needs at least 20 trading days (years >= 1)")
        self._anchor = anchor_days
        self._horizon = config.today + HORIZON
        self._days = trading_days(self.start, self._horizon)
        self._paths: dict[Symbol, _Path] = {}
        self._revisions: dict[tuple[Symbol, dt.date], dict[str, Decimal | int]] = {}
        self._bar_cache: dict[tuple[Symbol, str], list[BarRecord]] = {}
        # Rendered wire text per series, so a busy simulator spends little CPU per answer
        # (benchmarks share the machine's cores with the sync they measure).
        self._render_cache: dict[tuple, Any] = {}
        self._instruments = self._make_instruments()
        self._by_symbol = {inst.symbol: inst for inst in self._instruments}
        self._by_secid = {f"{inst.market}.{inst.symbol.code}": inst for inst in self._instruments}

    # --- time and edits -----------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        return self._today

    def set_today(self, day: dt.date) -> None:
        """Move the market's clock; days after the old today get bars, later actions apply."""
        with self._lock:
            self._today = day
            self._bar_cache.clear()
            self._render_cache.clear()
            if day > self._horizon:
                self._horizon = day + HORIZON
                self._days = trading_days(self.start, self._horizon)
                self._paths.clear()

    def revise_bar(self, symbol: Symbol | str, day: dt.date, **fields: Decimal | int | str) -> None:
        """Change a past bar as the provider sometimes does (volume in shares, a multiple of 100)."""
        inst = self.instrument(symbol)
        unknown = set(fields) - set(REVISABLE)
        if unknown:
            raise ValueError(f"cannot revise {sorted(unknown)}; revisable: {', '.join(REVISABLE)}")
        if not any(bar.day == day for bar in self.bars(inst.symbol)):
            raise ValueError(f"{inst.symbol} has no bar on {day}")
        clean: dict[str, Decimal | int] = {}
        for key, value in fields.items():
            if key == "volume":
                if int(value) % 100:
                    raise ValueError("volume is in shares and must be whole lots (a multiple of 100)")
                clean[key] = int(value)
            elif key == "amount":
                clean[key] = Decimal(str(value)).quantize(CENT)
            else:
                clean[key] = round_half_up(Decimal(str(value)), inst.decimals)
        with self._lock:
            self._revisions.setdefault((inst.symbol, day), {}).update(clean)
            self._bar_cache.clear()
            self._render_cache.clear()

    # --- instruments ----------------------------------------------------------------------
    def instruments(self) -> list[SimInstrument]:
        """Every instrument listed by today (delisted ones included), actions as of today."""
        return [self._as_of_today(inst) for inst in self._instruments if inst.list_date <= self.today]

    def _as_of_today(self, inst: SimInstrument) -> SimInstrument:
        today = self.today
        return dataclasses.replace(inst, actions=tuple(a for a in self._path(inst).actions if a.ex_date <= today))

    def upcoming_actions(self, symbol: Symbol | str, days: int) -> tuple[SimAction, ...]:
        """Actions after today and within ``days`` of it: announced plans, their terms final."""
        inst = self.instrument(symbol)
        until = self.today + dt.timedelta(days=days)
        return tuple(a for a in self._path(inst).actions if self.today < a.ex_date <= until)

    def codes(self) -> frozenset[str]:
        """Every simulated code, listed yet or not (a table's filler must never use one)."""
        return frozenset(inst.symbol.code for inst in self._instruments)

    def listed(self, day: dt.date | None = None) -> list[SimInstrument]:
        """Instruments in the list on ``day`` (default today): listed and not yet delisted."""
        day = day or self.today
        return [i for i in self.instruments() if i.list_date <= day and (i.delist_date is None or day <= i.delist_date)]

    def instrument(self, symbol: Symbol | str) -> SimInstrument:
        key = symbol if isinstance(symbol, Symbol) else parse_symbol(symbol)
        inst = self._by_symbol.get(key)
        if inst is None or inst.list_date > self.today:
            raise KeyError(f"the simulator has no instrument {symbol}")
        return self._as_of_today(inst)

    def find_secid(self, secid: str) -> SimInstrument | None:
        """``market.code`` (East Money's ``secid``); a dict, since every kline answer asks."""
        inst = self._by_secid.get(secid)
        if inst is None or inst.list_date > self.today:
            return None
        return self._as_of_today(inst)

    def snapshot_day(self) -> dt.date:
        """The trading day the list quotes: today, or the last trading day before it."""
        days = trading_days(self.today - dt.timedelta(days=30), self.today)
        return days[-1]

    # --- bars -------------------------------------------------------------------------------
    def bars(self, symbol: Symbol | str, adjust: str = "none") -> list[BarRecord]:
        """The truth: bars from listing to today (or delisting), volumes in shares."""
        inst = self.instrument(symbol)
        with self._lock:
            cached = self._bar_cache.get((inst.symbol, adjust))
            if cached is None:
                cached = self._bar_cache[(inst.symbol, adjust)] = self._compute_bars(inst, adjust)
            return list(cached)

    def cached_render(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """Memoise rendered output until today moves or a bar is revised."""
        with self._lock:
            value = self._render_cache.get(key)
            if value is None:
                value = self._render_cache[key] = compute()
            return value

    def last_bar(self, symbol: Symbol | str) -> BarRecord | None:
        """The latest raw bar up to today (what the list quotes), without building the whole series."""
        inst = self.instrument(symbol)
        with self._lock:
            cached = self._bar_cache.get((inst.symbol, "none"))
            if cached is not None:
                return cached[-1] if cached else None
            path = self._path(inst)
            at = bisect.bisect_right(path.days, min(self.today, inst.delist_date or self.today)) - 1
            if at < 0:
                return None
            day, *values = path.rows[at]
            fields = dict(zip(REVISABLE, values, strict=True)) | self._revisions.get((inst.symbol, day), {})
            if at > 0:
                before = path.rows[at - 1]
                prev_close = Decimal(self._revisions.get((inst.symbol, before[0]), {}).get("close", before[4]))
            else:
                prev_close = inst.start_price
            return self._record(inst, day, fields, prev_close, inst.actions, "none")

    def quote(self, symbol: Symbol | str) -> BarRecord | None:
        """The latest bar as the list quotes it: ``prev_close`` is the exchange's reference
        (``f18``), on an ex-day ``(previous close - cash) / ratio`` rounded, and the change,
        change % and amplitude are quoted against it."""
        bar = self.last_bar(symbol)
        if bar is None:
            return None
        inst = self.instrument(symbol)
        reference = bar.prev_close
        assert reference is not None  # the simulator quotes every bar against a previous close
        applied = [a for a in self._path(inst).actions if a.ex_date <= bar.day]
        previous_day = self._previous_bar_day(inst, bar.day)
        for action in applied:
            if previous_day is None or action.ex_date > previous_day:
                reference = round_half_up((reference - action.cash) / action.split_ratio, inst.decimals)
        if reference == bar.prev_close:
            return bar
        return dataclasses.replace(
            bar,
            prev_close=reference,
            amplitude_pct=((bar.high - bar.low) / reference * 100).quantize(CENT, rounding=ROUND_HALF_UP),
            change_pct=((bar.close - reference) / reference * 100).quantize(CENT, rounding=ROUND_HALF_UP),
        )

    def _previous_bar_day(self, inst: SimInstrument, day: dt.date) -> dt.date | None:
        days = self._path(inst).days
        at = bisect.bisect_left(days, day)
        return days[at - 1] if at > 0 else None

    def warm_up(self) -> None:
        """Generate every instrument's history now, so the first requests are quick."""
        for inst in self.instruments():
            self.last_bar(inst.symbol)

    def _compute_bars(self, inst: SimInstrument, adjust: str) -> list[BarRecord]:
        """Each day's change is quoted against the previous close *of the same series* (raw:
        the previous raw close even on an ex-day, as East Money's history does)."""
        path = self._path(inst)
        last = min(self.today, inst.delist_date or self.today)
        actions = tuple(a for a in path.actions if a.ex_date <= self.today)
        bars: list[BarRecord] = []
        revisions = {day: dict(f) for (sym, day), f in self._revisions.items() if sym == inst.symbol}
        prev_close = inst.start_price if adjust == "none" else None
        for day, open_, high, low, close, volume, amount in path.rows:
            if day > last:
                break
            fields: dict[str, Any] = {
                "open": open_,
                "high": high,
                "low": low,
                "close": close,
                "volume": volume,
                "amount": amount,
            }
            fields.update(revisions.get(day, {}))
            bar = self._record(inst, day, fields, prev_close, actions, adjust)
            bars.append(bar)
            prev_close = bar.close if adjust != "none" else fields["close"]
        return bars

    def _record(
        self,
        inst: SimInstrument,
        day: dt.date,
        fields: dict,
        prev_close: Decimal | None,
        actions: tuple[SimAction, ...],
        adjust: str,
    ) -> BarRecord:
        """``prev_close`` is already in the series' terms; None (first adjusted bar): the open."""
        adjuster = {"none": None, "qfq": qfq_price, "hfq": hfq_price}[adjust]

        def price(value: Decimal) -> Decimal:
            return value if adjuster is None else adjuster(value, day, actions, inst.decimals)

        open_, high, low, close = (price(fields[key]) for key in ("open", "high", "low", "close"))
        ref = prev_close if prev_close is not None else open_
        if ref <= 0:  # old qfq prices can reach zero or below; the percentages are then undefined
            ref = Decimal(1).scaleb(-inst.decimals)
        change = close - ref
        return BarRecord(
            day=day,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=fields["volume"],
            amount=fields["amount"],
            prev_close=ref,
            amplitude_pct=((high - low) / ref * 100).quantize(CENT, rounding=ROUND_HALF_UP),
            change_pct=(change / ref * 100).quantize(CENT, rounding=ROUND_HALF_UP),
            turnover_pct=(Decimal(fields["volume"]) / inst.float_shares * 100).quantize(CENT, rounding=ROUND_HALF_UP),
        )

    # --- generation -------------------------------------------------------------------------
    def _make_instruments(self) -> list[SimInstrument]:
        made = [self._make(i, is_etf=True) for i in range(self.config.n_etfs)]
        taken = {inst.symbol.code for inst in made}
        extra = EXCHANGE_ONLY_ETFS[: self.config.exchange_only_etfs]
        made += [
            self._make(self.config.n_etfs + i, is_etf=True, row=row)
            for i, row in enumerate(extra)
            if row[0] not in taken
        ]
        made += [self._make(i, is_etf=False) for i in range(self.config.n_stocks)]
        return made

    def _make(self, index: int, *, is_etf: bool, row: tuple[str, str, str, str, str] | None = None) -> SimInstrument:
        if is_etf:
            if row is not None:  # on the exchanges' lists only: no East Money board tag
                code, exchange, name, price, board = row
            elif index < len(ETFS):
                code, exchange, name, price, board = ETFS[index]
            elif index < 1000:
                code, exchange = (f"159{index:03d}", "SZ") if index % 2 else (f"517{index:03d}", "SH")
                name, price, board = f"指数{index}ETF", "1.000", "MK0021"
            else:  # past 1,000 (benchmarks): 159's even numbers, free above, and the 518 block
                number = index - 1000
                code, exchange = (f"159{number - 1:03d}", "SZ") if index % 2 else (f"518{number:03d}", "SH")
                name, price, board = f"指数{index}ETF", "1.000", "MK0021"
            if row is None and index >= len(ETFS) and code in REAL_ETF_CODES:  # taken by a real one above
                code, exchange = f"560{index % 1000:03d}", "SH"
            if index % 4 == 3 and row is None:
                name = name.replace("ETF", "ＥＴＦ")  # full-width, as some East Money names are
            features, decimals = ETF_FEATURES, 3
            tags = frozenset({f"m:{EASTMONEY_MARKET[exchange]}"} | ({f"b:{board}"} if board else set()))
        else:
            if index < len(STOCKS):
                code, exchange, name, price = STOCKS[index]
            else:
                code, exchange, name, price = f"605{index:03d}", "SH", f"模拟股份{index}", "10.00"
            features, decimals = STOCK_FEATURES, 2
            tags = stock_tags(code, exchange)
        rng = random.Random(f"{self.seed}/{code}/plan")
        feature = features[index % len(features)]
        anchor = self._anchor
        list_date, delist_date = anchor[0], None
        if feature == "late":
            list_date = anchor[int(len(anchor) * rng.uniform(0.3, 0.7))]
        elif feature == "delisted":
            delist_date = anchor[-1 - rng.randint(10, min(40, len(anchor) // 3))]
        symbol = Symbol(code, exchange)
        return SimInstrument(
            symbol=symbol,
            name=name,
            is_etf=is_etf,
            asset_type="etf" if is_etf else classify_code(code, exchange),
            decimals=decimals,
            list_date=list_date,
            delist_date=delist_date,
            actions=(),
            feature=feature,
            tags=tags,
            start_price=round_half_up(Decimal(price) * Decimal(str(rng.uniform(0.8, 1.2))), decimals),
            float_shares=rng.randint(200, 5000) * 1_000_000,
        )

    def _path(self, inst: SimInstrument) -> _Path:
        with self._lock:
            path = self._paths.get(inst.symbol)
            if path is None:
                path = self._paths[inst.symbol] = self._generate(inst)
            return path

    def _generate(self, inst: SimInstrument) -> _Path:
        """Plan actions and suspensions on the anchor days, then walk prices to the horizon.

        Every random draw here is tied to the anchor (the configured today) or to a calendar
        year, so moving the horizon forward never changes the history already generated.
        """
        plan = random.Random(f"{self.seed}/{inst.symbol.code}/events")
        days = [d for d in self._days if d >= inst.list_date and (inst.delist_date is None or d <= inst.delist_date)]
        day_set = set(days)
        anchor = [d for d in self._anchor if d in day_set]
        suspended: set[dt.date] = set()
        if inst.feature == "suspended" and len(anchor) > 40:
            first = plan.randrange(10, len(anchor) // 2)
            suspended.update(anchor[first : first + plan.randint(3, 8)])
            today_at = self._days.index(anchor[-1])
            suspended.update(self._days[today_at - 2 : today_at + 4])  # suspended over "today"
        bar_days = [d for d in days if d not in suspended]
        anchored_bars = [d for d in bar_days if d <= anchor[-1]]
        actions: dict[dt.date, SimAction] = {}
        if inst.feature == "split" and len(anchored_bars) > 20:
            ratios = ETF_SPLIT_RATIOS + ETF_CONVERSION_RATIOS if inst.is_etf else STOCK_SPLIT_RATIOS
            split_day = anchored_bars[int(len(anchored_bars) * plan.uniform(0.3, 0.7))]
            ratio = plan.choice(ratios)
            actions[split_day] = SimAction(split_day, Decimal(0), ratio)
            if ratio in ETF_CONVERSION_RATIOS:
                suspended.add(split_day)  # conversions: no trading on the conversion day
        scheduled = {s.ex_date: s for s in self.config.scheduled if s.code == inst.symbol.code}
        for when, item in scheduled.items():
            actions[when] = SimAction(when, item.cash_share, item.split_ratio)
            if not item.trades:
                suspended.add(when)
        bar_days = [d for d in bar_days if d not in suspended]
        if not bar_days:
            return _Path([], (), frozenset(suspended))
        bar_set = set(bar_days)
        earliest = bar_days[min(5, len(bar_days) - 1)]
        for year in range(bar_days[0].year, bar_days[-1].year + 1):
            yearly = random.Random(f"{self.seed}/{inst.symbol.code}/distribution/{year}")
            pays = inst.feature == "distribution" or yearly.random() < 0.4
            # Candidates depend on the calendar and the anchor only, never on the horizon.
            candidates = [
                d
                for d in trading_days(dt.date(year, 1, 1), dt.date(year, 12, 31))
                if d >= earliest and (d <= self._anchor[-1] or year > self._anchor[-1].year)
            ]
            day = yearly.choice(candidates) if candidates else None
            if pays and day in bar_set and day not in actions:
                actions[day] = SimAction(day)
        return self._walk(inst, bar_days, actions, frozenset(suspended), frozenset(scheduled))

    def _walk(
        self,
        inst: SimInstrument,
        bar_days: list[dt.date],
        planned: dict[dt.date, SimAction],
        suspended: frozenset,
        scheduled: frozenset[dt.date] = frozenset(),
    ) -> _Path:
        """Random-walk prices in integer ticks from the start price, through the planned actions.

        Each kind of draw has its own random stream, consumed one value per bar day (or per
        action), so a longer horizon only appends values and never changes earlier bars. An
        action on a day without a bar takes effect at the next bar; a conversion's first
        reference comes from the fund's NAV, a little off ``previous close / ratio``.
        """
        count = len(bar_days)
        seed = random.Random(f"{self.seed}/{inst.symbol.code}/prices")
        base_lots = seed.randint(20_000, 3_000_000) if inst.is_etf else seed.randint(50_000, 800_000)
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed.getrandbits(64)).spawn(5)]
        sigma = 0.012 if inst.is_etf else 0.02
        close_moves = np.exp(np.clip(streams[0].normal(0, sigma, count), -0.095, 0.095)).tolist()
        open_moves = np.exp(streams[1].normal(0, sigma / 3, count))
        highs_up = 1 + np.abs(streams[2].normal(0, sigma / 2, count))
        lows_down = 1 - np.abs(streams[3].normal(0, sigma / 2, count))
        volumes = (np.maximum(1, (base_lots * streams[4].lognormal(0, 0.4, count)).astype(np.int64)) * 100).tolist()
        cash_draws = random.Random(f"{self.seed}/{inst.symbol.code}/cash")
        nav_draws = random.Random(f"{self.seed}/{inst.symbol.code}/nav")
        places = inst.decimals
        ref = int(inst.start_price.scaleb(places))
        refs, closes, actions = [], [], []
        waiting = sorted(planned.values(), key=lambda a: a.ex_date)
        for index, day in enumerate(bar_days):
            while waiting and waiting[0].ex_date <= day:
                action = waiting.pop(0)
                price = Decimal(ref).scaleb(-places)
                if action.ex_date in scheduled:  # cash given as a share of the price
                    cash = round_half_up(price * action.cash, 3) if action.cash else Decimal(0)
                    action = SimAction(action.ex_date, cash, action.split_ratio)
                elif action.split_ratio == 1:  # a distribution of 0.5-3 % of the price
                    cash = round_half_up(price * Decimal(str(cash_draws.uniform(0.005, 0.03))), 3)
                    action = SimAction(action.ex_date, max(cash, Decimal("0.001")), Decimal(1))
                elif not inst.is_etf:  # stocks often pay cash with a bonus issue
                    action = SimAction(action.ex_date, round_half_up(price * Decimal("0.01"), 2), action.split_ratio)
                actions.append(action)
                reference = (price - action.cash) / action.split_ratio
                if action.ex_date in suspended and action.split_ratio != 1:  # re-based to the NAV
                    reference *= Decimal(str(round(nav_draws.uniform(0.996, 1.004), 4)))
                ref = max(1, int(round_half_up(reference, places).scaleb(places)))
            refs.append(ref)
            ref = max(1, math.floor(ref * close_moves[index] + 0.5))
            closes.append(ref)
        close_ticks = np.array(closes, dtype=np.int64)
        open_ticks = np.maximum(1, np.floor(np.array(refs, dtype=np.float64) * open_moves + 0.5).astype(np.int64))
        top, bottom = np.maximum(open_ticks, close_ticks), np.minimum(open_ticks, close_ticks)
        high_ticks = np.maximum(top, np.floor(top * highs_up + 0.5).astype(np.int64))
        low_ticks = np.maximum(1, np.minimum(bottom, np.floor(bottom * lows_down + 0.5).astype(np.int64)))
        rows = []
        for day, o, h, lo, c, volume in zip(
            bar_days, open_ticks.tolist(), high_ticks.tolist(), low_ticks.tolist(), closes, volumes, strict=True
        ):
            amount = (Decimal(volume * (o + h + lo + c)).scaleb(-places) / 4).quantize(CENT)
            prices = (Decimal(t).scaleb(-places) for t in (o, h, lo, c))
            rows.append((day, *prices, volume, amount))
        return _Path(rows, tuple(actions), suspended)
