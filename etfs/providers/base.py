"""The interface the sync depends on, and the typed records that cross it.

Providers return plain dataclasses (never DataFrames) so the sync can stream them. Units
are normalised here, once: volumes in *shares* (East Money reports lots of 100), amounts
in CNY, prices as exact ``Decimal`` at the precision the host reports, dates as trading
dates (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from etfs.providers.errors import BadPayload, NotSupported
from etfs.symbols import Symbol


class Adjust(enum.StrEnum):
    """Price adjustment of a bar series: none (raw), forward (qfq) or backward (hfq)."""

    NONE = "none"
    QFQ = "qfq"
    HFQ = "hfq"


class InstrumentKind(enum.StrEnum):
    """What a list request asks for."""

    ETF = "etf"
    STOCK = "stock"


NO_VALUE = "-"  # the providers' "no value" (no trade, no turnover)


def wire_decimal(raw: Any) -> Decimal | None:
    """A number as the providers send it (string or JSON number) as ``Decimal``; None for
    ``"-"``, empty or missing. Text that is no number fails the answer; NaN and Infinity are
    kept, for the sync's validation to name the row."""
    if raw is None or raw == NO_VALUE or raw == "":
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        raise BadPayload(f"not a number: {raw!r}") from None


def wire_decimals(raws: Iterable[Any]) -> list[Decimal] | None:
    """Several wire numbers that make one bar: all of them, or None when any is missing."""
    values = [wire_decimal(raw) for raw in raws]
    present = [value for value in values if value is not None]
    return present if len(present) == len(values) else None


@dataclass(frozen=True)
class BarRecord:
    """One daily bar as the provider reported it.

    ``prev_close`` is the previous close the provider quoted the day's change against. In
    East Money's history (``close - change``) that is the previous *raw* close on every day,
    ex-days included (checked on real answers), so it reveals no ex-day; in the list
    snapshot (``f18``) it is the exchange's ex-reference price, which on an ex-day differs
    from the stored close. ``None`` when the provider did not report it.
    """

    day: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    # Shares. A non-whole or non-finite number the provider sent stays a ``Decimal``, for the
    # sync's validation to name the row (it never reaches the database).
    volume: int | Decimal
    amount: Decimal | None  # None when the provider did not report it (Tencent's short rows)
    prev_close: Decimal | None = None
    # The provider's derived columns (East Money kline positions 7, 8 and 10), kept for
    # reference; they follow from the fields above, so they take no part in equality.
    amplitude_pct: Decimal | None = field(default=None, compare=False)
    change_pct: Decimal | None = field(default=None, compare=False)
    turnover_pct: Decimal | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BarSeries:
    """The answer to one history request."""

    symbol: Symbol
    adjust: Adjust
    bars: list[BarRecord]
    decimals: int = 3
    name: str = ""
    provider: str = ""


@dataclass(frozen=True)
class PlainBars:
    """Unadjusted daily bars kept as the host's own decimal text: the bulk-loading lane.

    A backfill moves millions of rows from the wire into ``COPY``; making a ``BarRecord`` of
    ``Decimal`` fields out of each cost ~8 µs a row, most of the sync's CPU. A provider
    returns this only when every row is *plain* — digits in the precision the columns keep,
    nothing missing, dates valid, prices plausible — so the text is the exact value and the
    database stores what ``BarRecord`` would have held. ``rows`` are ``(ISO day, open, high,
    low, close, volume in shares, amount)``, oldest first; ``ex_pairs`` are the exact records
    of each ``(previous bar, bar)`` whose quoted previous close differs from the previous close
    or that moves by more than any price limit's lower bound (the sync checks those against the
    instrument's limit; ex-days are read from the provider's qfq series, since East Money quotes
    raw changes against the previous raw close); ``records`` parses the whole series exactly,
    for the rare caller that needs it (one with a suspicious day).
    """

    symbol: Symbol
    decimals: int
    rows: list[tuple[str, str, str, str, str, str, str]]
    ex_pairs: list[tuple[BarRecord, BarRecord]]
    records: Callable[[], list[BarRecord]] = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def first_day(self) -> dt.date | None:
        return dt.date.fromisoformat(self.rows[0][0]) if self.rows else None


@dataclass(frozen=True)
class PriceTicks:
    """Prices of one series (raw or adjusted) as integer ticks, for comparing two series fast.

    ``days`` oldest first; ``ticks[i]`` = open, high, low, close of ``days[i]`` times
    ``10**decimals``.
    """

    days: list[dt.date]
    ticks: np.ndarray
    decimals: int

    def __len__(self) -> int:
        return len(self.days)

    @classmethod
    def from_bars(cls, bars: Sequence, decimals: int) -> PriceTicks:
        """From ``BarRecord``-like objects (Decimal prices at ``decimals`` places)."""
        scale = Decimal(1).scaleb(decimals)
        values = [[int(getattr(bar, name) * scale) for name in ("open", "high", "low", "close")] for bar in bars]
        return cls([bar.day for bar in bars], np.array(values, dtype=np.int64).reshape(-1, 4), decimals)

    @classmethod
    def from_text(cls, rows: Sequence[tuple[str, str, str, str, str]], decimals: int) -> PriceTicks:
        """From ``(ISO day, open, high, low, close)`` text at ``decimals`` places (plain rows)."""
        days = [dt.date.fromisoformat(row[0]) for row in rows]
        return cls(days, ticks_of([value for row in rows for value in row[1:5]], decimals), decimals)


def ticks_of(prices: list[str], decimals: int) -> np.ndarray:
    """Price texts (open, high, low, close per day, flat) as an (n, 4) array of integer ticks."""
    values = np.array(list(map(float, prices)), dtype=np.float64).reshape(-1, 4) * 10**decimals
    if not np.all(np.abs(values) < 2**53):  # also refuses "nan" and "inf"
        raise ValueError("a price is not finite or out of range")
    return np.rint(values).astype(np.int64)


@dataclass(frozen=True)
class ListingRecord:
    """One row of an instrument list, with the latest-day quote when there was a trade.

    ``quote`` is ``None`` when the host reports ``-`` (suspended, or before the open). After
    the close on a trading day the quote is that day's final bar — the fast daily path.
    """

    symbol: Symbol
    name: str
    is_etf: bool
    asset_type: str
    quote: BarRecord | None = None
    decimals: int = 3
    updated_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why the row's quote could not be read (the sync skips the instrument)


@dataclass(frozen=True)
class AnnouncedRecord:
    """One implemented corporate action as a provider's distribution/split table states it.

    The terms are the announced ones, exact (a share conversion's ratio to the table's last
    decimal, a stock's cash to the 0.001 CNY a 0.01 quote cannot show), so the sync can pin
    what the adjusted series only bound. ``ex_date`` is the table's: for a fund's conversion
    often a day without trading (the action takes effect at the next bar).
    """

    code: str  # six digits, as the table gives it
    ex_date: dt.date  # ex-date / conversion date as the table gives it (may be a day without trading)
    cash: Decimal = Decimal(0)  # CNY per share (unit) before the split
    split_ratio: Decimal = Decimal(1)  # shares (units) after per share before; 2 = 1:2 split, 0.5 = 2:1 merge


@dataclass
class RequestStats:
    """Counters a provider keeps so every run can report what it cost."""

    requests: int = 0
    retries: int = 0
    failures: int = 0


class MarketDataProvider(ABC):
    """What the sync needs from a market-data host.

    Implementations raise ``etfs.providers.errors.ProviderError`` subclasses, never
    ``requests`` exceptions, and are safe to call from several threads at once (they share
    one pooled session and one rate limiter per host).
    """

    name: str = ""
    stats: RequestStats
    # False for providers without an instrument list (Tencent): the fallback skips them for lists.
    supports_listing: bool = True

    @abstractmethod
    def list_instruments(
        self, kind: InstrumentKind, exchanges: Iterable[str] = ("SH", "SZ", "BJ")
    ) -> Iterator[ListingRecord]:
        """Every listed instrument of ``kind`` on ``exchanges``, with its latest quote."""

    @abstractmethod
    def fetch_daily_bars(
        self,
        symbol: Symbol,
        start: dt.date | None = None,
        end: dt.date | None = None,
        adjust: Adjust = Adjust.NONE,
    ) -> BarSeries:
        """Daily bars of one instrument, oldest first, ``start``/``end`` inclusive (None = open).

        Raises ``UnknownInstrument`` when the host does not know the symbol.
        """

    def fetch_plain_daily_bars(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None
    ) -> PlainBars | BarSeries:
        """Unadjusted daily bars for bulk loading, in one request like ``fetch_daily_bars``.

        Providers that can prove a series plain return ``PlainBars`` (see there); any other
        answer, and every provider without that lane, is the usual exact ``BarSeries``.
        """
        return self.fetch_daily_bars(symbol, start, end)

    def fetch_price_ticks(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None, adjust: Adjust = Adjust.QFQ
    ) -> PriceTicks:
        """Prices of one adjusted series, in one request: the evidence of ex-days.

        Only a provider whose adjusted series follow East Money's rule (cash additive, splits
        multiplicative, rounded half-up to the quoted precision) may answer; others raise
        ``NotSupported`` — their adjusted prices would be read as wrong actions.
        """
        raise NotSupported(f"{self.name} has no East Money-style adjusted series", symbol=symbol.canonical)

    # True for providers that can tell the exchange's sessions (``fetch_sessions``).
    supports_sessions: bool = False

    def fetch_sessions(self, start: dt.date | None = None, end: dt.date | None = None) -> list[dt.date]:
        """The Shanghai/Shenzhen trading sessions from ``start`` to ``end`` (None = open), oldest first.

        Providers that know them (East Money: the daily bars of the SSE Composite index, one
        request for every session since 1990) override this and set ``supports_sessions``.
        """
        raise NotSupported(f"{self.name or type(self).__name__} cannot tell trading sessions")

    def fetch_fund_splits(self, year: int) -> list[AnnouncedRecord]:
        """Every fund's split, merge and share conversion with a date in ``year`` (all pages of the
        provider's table; East Money: ``funddataIndex_Interface.aspx?dt=9``), oldest first.

        Funds of every kind are in it, not only ours: filter by code. Providers without such a
        table raise ``NotSupported``.
        """
        raise NotSupported(f"{self.name or type(self).__name__} has no fund split table")

    def fetch_stock_bonuses(self, codes: Sequence[str]) -> list[AnnouncedRecord]:
        """The implemented cash dividends and bonus/capitalisation issues of the stocks ``codes``
        (six digits), their whole history, oldest first; one record per code and ex-date.

        Providers without such a table raise ``NotSupported``.
        """
        raise NotSupported(f"{self.name or type(self).__name__} has no stock dividend table")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""
