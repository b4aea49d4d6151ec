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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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


@dataclass(frozen=True)
class BarRecord:
    """One daily bar as the provider reported it.

    ``prev_close`` is the exchange's reference previous close for this day (East Money:
    ``close - change``). On an ex-day it differs from the previous bar's close, which is how
    the sync finds distributions and splits without a second request; ``None`` when the
    provider did not report a change.
    """

    day: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
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
    of each ``(previous bar, bar)`` whose reference previous close differs from the previous
    close (the ex-day candidates) or that moves by more than any price limit's lower bound
    (the sync checks those against the instrument's limit); ``records`` parses the whole
    series exactly, for the rare caller that needs it (a series whose ex-days need the
    provider's qfq series, or one with a suspicious day).
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

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections."""
