"""An in-memory market-data provider for the sync's unit tests (no network, no threads' DB).

It follows the provider contract of ``etfs.providers.base`` and behaves as East Money does:
volumes in shares; history's ``prev_close`` is the previous *raw* close, ex-days included
(so a raw series shows no ex-day); the list's quote is the latest day's bar, whose
``prev_close`` (``f18``) is the exchange's ex-reference on an ex-day; qfq series computed by
East Money's rule; history filtered by ``start``/``end`` inclusive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import etfs.sync.service
from etfs.calendar import trading_days
from etfs.providers.base import (
    Adjust,
    BarRecord,
    BarSeries,
    InstrumentKind,
    ListingRecord,
    MarketDataProvider,
    PriceTicks,
    RequestStats,
)
from etfs.providers.errors import ProviderUnavailable, TransientError, UnknownInstrument
from etfs.symbols import Symbol, parse_symbol
from prices.adjustments import Action


def _round(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def make_bars(
    days: list[dt.date], *, base: str = "3.500", decimals: int = 3, actions: Iterable[Action] = (), seed: int = 0
) -> list[BarRecord]:
    """Deterministic raw bars; on an ex-day the price continues from the ex-reference close,
    while ``prev_close`` stays the previous raw close (as East Money's history quotes it)."""
    by_day = {a.ex_date: a for a in actions}
    bars: list[BarRecord] = []
    close = Decimal(base)
    for index, day in enumerate(days):
        reference = close
        if day in by_day:
            action = by_day[day]
            reference = _round((close - action.cash) / action.split_ratio, decimals)
        step = Decimal((index * 7 + seed * 3) % 11 - 5).scaleb(-decimals)
        new_close = max(reference + step, Decimal(1).scaleb(-decimals) * 10)
        open_ = reference
        bars.append(
            BarRecord(
                day=day,
                open=open_,
                high=max(open_, new_close) + Decimal(2).scaleb(-decimals),
                low=min(open_, new_close) - Decimal(1).scaleb(-decimals),
                close=new_close,
                volume=(1000 + index * 10 + seed) * 100,
                amount=Decimal(123456 + index * 100 + seed).quantize(Decimal("0.01")),
                prev_close=close if bars else None,
            )
        )
        close = new_close
    return bars


def qfq_bar(bar: BarRecord, actions: list[Action], decimals: int) -> BarRecord:
    """East Money's forward adjustment: every later action, earliest first, (p - cash) / ratio."""

    def adjust(price: Decimal) -> Decimal:
        for action in sorted(actions, key=lambda a: a.ex_date):
            if action.ex_date > bar.day:
                price = (price - action.cash) / action.split_ratio
        return _round(price, decimals)

    return BarRecord(bar.day, *(adjust(p) for p in (bar.open, bar.high, bar.low, bar.close)), bar.volume, bar.amount)


def hfq_bar(bar: BarRecord, actions: list[Action], decimals: int) -> BarRecord:
    """East Money's backward adjustment: every action up to the day, latest first, p * ratio + cash."""

    def adjust(price: Decimal) -> Decimal:
        for action in sorted(actions, key=lambda a: a.ex_date, reverse=True):
            if action.ex_date <= bar.day:
                price = price * action.split_ratio + action.cash
        return _round(price, decimals)

    return BarRecord(bar.day, *(adjust(p) for p in (bar.open, bar.high, bar.low, bar.close)), bar.volume, bar.amount)


@dataclass
class FakeInstrument:
    symbol: Symbol
    name: str
    bars: list[BarRecord]
    is_etf: bool = True
    decimals: int = 3
    listed: bool = True
    actions: list[Action] = field(default_factory=list)

    @property
    def asset_type(self) -> str:
        return "etf" if self.is_etf else "stock"


class FakeProvider(MarketDataProvider):
    """Holds instruments with their whole bar history; ``today`` hides later bars."""

    name = "fake"

    def __init__(self, instruments: list[FakeInstrument], today: dt.date) -> None:
        self.instruments = {i.symbol.canonical: i for i in instruments}
        self.today = today
        self.stats = RequestStats()
        self.failing: set[str] = set()
        self.failing_series: set[tuple[str, Adjust]] = set()  # one series of one instrument refused
        self.unavailable = False
        self.list_fails = False
        self.history_requests: list[tuple[str, dt.date | None, dt.date | None]] = []
        self.adjusted_requests: list[tuple[str, dt.date | None, dt.date | None]] = []
        self.list_requests = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.stats.requests += 1
        if self.unavailable:
            raise ProviderUnavailable("circuit open: the host keeps refusing", host="fake")

    def visible(self, symbol: str) -> list[BarRecord]:
        return [b for b in self.instruments[symbol].bars if b.day <= self.today]

    def list_instruments(
        self, kind: InstrumentKind, exchanges: Iterable[str] = ("SH", "SZ", "BJ")
    ) -> Iterator[ListingRecord]:
        self._count()
        with self._lock:
            self.list_requests += 1
        if self.list_fails:
            raise TransientError("list refused after retries", host="fake", status=502)
        for item in self.instruments.values():
            if not item.listed or item.is_etf != (kind == InstrumentKind.ETF) or item.symbol.exchange not in exchanges:
                continue
            bars = self.visible(item.symbol.canonical)
            quote = bars[-1] if bars and bars[-1].day == self.today else None
            if quote is not None and len(bars) > 1:
                quote = dataclasses.replace(quote, prev_close=self.reference(item, bars[-2].close, quote.day))
            yield ListingRecord(item.symbol, item.name, item.is_etf, item.asset_type, quote, decimals=item.decimals)

    def fetch_daily_bars(
        self,
        symbol: Symbol,
        start: dt.date | None = None,
        end: dt.date | None = None,
        adjust: Adjust = Adjust.NONE,
    ) -> BarSeries:
        self._count()
        with self._lock:
            requests = self.history_requests if adjust == Adjust.NONE else self.adjusted_requests
            requests.append((symbol.canonical, start, end))
        if symbol.canonical in self.failing or (symbol.canonical, adjust) in self.failing_series:
            with self._lock:
                self.stats.failures += 1
            raise TransientError("HTTP 502 after 5 attempts", host="fake", symbol=symbol.canonical, status=502)
        item = self.instruments.get(symbol.canonical)
        if item is None:
            raise UnknownInstrument("data: null", host="fake", symbol=symbol.canonical)
        bars = [
            b
            for b in self.visible(symbol.canonical)
            if (start is None or b.day >= start) and (end is None or b.day <= end)
        ]
        done = [a for a in item.actions if a.ex_date <= self.today]  # the host knows these only
        if adjust == Adjust.QFQ:
            bars = [qfq_bar(bar, done, item.decimals) for bar in bars]
        elif adjust == Adjust.HFQ:
            bars = [hfq_bar(bar, done, item.decimals) for bar in bars]
        return BarSeries(symbol, adjust, bars, decimals=item.decimals, name=item.name, provider=self.name)

    @staticmethod
    def reference(item: FakeInstrument, previous_close: Decimal, day: dt.date) -> Decimal:
        """The exchange's reference previous close for ``day`` (``f18``): ex-reference on an ex-day."""
        for action in item.actions:
            if action.ex_date == day:
                return _round((previous_close - action.cash) / action.split_ratio, item.decimals)
        return previous_close

    def fetch_price_ticks(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None, adjust: Adjust = Adjust.QFQ
    ) -> PriceTicks:
        series = self.fetch_daily_bars(symbol, start, end, adjust)
        return PriceTicks.from_bars(series.bars, series.decimals)

    def revise(self, symbol: str, day: dt.date, **changes) -> BarRecord:
        """Change a stored-by-the-host bar (providers revise recent volumes and amounts)."""
        item = self.instruments[symbol]
        for index, bar in enumerate(item.bars):
            if bar.day == day:
                item.bars[index] = BarRecord(**{**bar.__dict__, **changes})
                return item.bars[index]
        raise KeyError(day)


def fake_market(
    start: dt.date = dt.date(2024, 4, 1), today: dt.date = dt.date(2024, 6, 28), extra_days: int = 5
) -> FakeProvider:
    """Three ETFs (one with a distribution, one with a 1:2 split) and two stocks."""
    days = trading_days(start, today + dt.timedelta(days=extra_days * 2))
    dividend = Action(ex_date=dt.date(2024, 5, 20), cash=Decimal("0.050"))
    split = Action(ex_date=dt.date(2024, 6, 3), split_ratio=Decimal(2))
    instruments = [
        FakeInstrument(
            parse_symbol("510300.SH"),
            "沪深300ETF",
            make_bars(days, base="3.500", actions=[dividend], seed=1),
            actions=[dividend],
        ),
        FakeInstrument(
            parse_symbol("159919.SZ"),
            "沪深300ＥＴＦ",
            make_bars(days, base="4.200", actions=[split], seed=2),
            actions=[split],
        ),
        FakeInstrument(parse_symbol("512880.SH"), "证券ETF", make_bars(days[10:], base="1.100", seed=3)),
        FakeInstrument(
            parse_symbol("600000.SH"),
            "浦发银行",
            make_bars(days, base="8.50", decimals=2, seed=4),
            is_etf=False,
            decimals=2,
        ),
        FakeInstrument(
            parse_symbol("000001.SZ"),
            "平安银行",
            make_bars(days, base="10.20", decimals=2, seed=5),
            is_etf=False,
            decimals=2,
        ),
    ]
    return FakeProvider(instruments, today)


def install_fake_provider(monkeypatch, provider: FakeProvider) -> FakeProvider:
    """Make every ``run_sync`` that names no provider instance (tasks, commands) use ``provider``."""

    def build(name):
        if name not in (None, "fake"):
            raise etfs.sync.service.SyncOptionError(f"--provider: unknown provider {name!r} (valid: fake)")
        return provider, False

    monkeypatch.setattr(etfs.sync.service, "_build_provider", build)
    return provider
