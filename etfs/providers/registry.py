"""Build the provider a command or task asked for, or the configured fallback chain.

``settings.MARKETDATA["PROVIDERS"]`` orders the providers: lists come from the first one
that has lists; daily bars are tried in order until one answers. "No such instrument" is
an answer, not a failure, so it is never retried elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from django.conf import settings

from etfs.providers.base import (
    Adjust,
    AnnouncedRecord,
    BarSeries,
    InstrumentKind,
    ListingRecord,
    MarketDataProvider,
    PlainBars,
    PriceTicks,
    RequestStats,
)
from etfs.providers.eastmoney import EastMoneyProvider
from etfs.providers.errors import NotSupported, ProviderError, UnknownInstrument
from etfs.providers.tencent import TencentProvider
from etfs.symbols import Symbol

T = TypeVar("T")

PROVIDERS: dict[str, type[MarketDataProvider]] = {
    EastMoneyProvider.name: EastMoneyProvider,
    TencentProvider.name: TencentProvider,
}


class FallbackProvider(MarketDataProvider):
    """Several providers behind the one interface, tried in order."""

    def __init__(self, providers: Sequence[MarketDataProvider]) -> None:
        if not providers:
            raise ValueError("FallbackProvider needs at least one provider")
        self.providers = list(providers)
        self.name = "fallback(" + ",".join(p.name for p in self.providers) + ")"
        self.supports_listing = any(p.supports_listing for p in self.providers)
        self.supports_sessions = any(p.supports_sessions for p in self.providers)

    @property
    def stats(self) -> RequestStats:  # type: ignore[override]
        """The sum over every provider (a fresh object: read it, do not write it)."""
        total = RequestStats()
        for provider in self.providers:
            total.requests += provider.stats.requests
            total.retries += provider.stats.retries
            total.failures += provider.stats.failures
        return total

    def close(self) -> None:
        for provider in self.providers:
            provider.close()

    def list_instruments(
        self, kind: InstrumentKind, exchanges: Iterable[str] = ("SH", "SZ", "BJ")
    ) -> Iterator[ListingRecord]:
        for provider in self.providers:
            if provider.supports_listing:
                return provider.list_instruments(kind, exchanges)
        raise NotSupported(f"none of {', '.join(p.name for p in self.providers)} can list instruments")

    def fetch_sessions(self, start: dt.date | None = None, end: dt.date | None = None) -> list[dt.date]:
        for provider in self.providers:
            if provider.supports_sessions:
                return provider.fetch_sessions(start, end)
        raise NotSupported(f"none of {', '.join(p.name for p in self.providers)} can tell trading sessions")

    def fetch_daily_bars(
        self,
        symbol: Symbol,
        start: dt.date | None = None,
        end: dt.date | None = None,
        adjust: Adjust = Adjust.NONE,
    ) -> BarSeries:
        return self._first_answer(symbol, lambda provider: provider.fetch_daily_bars(symbol, start, end, adjust))

    def fetch_plain_daily_bars(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None
    ) -> PlainBars | BarSeries:
        return self._first_answer(symbol, lambda provider: provider.fetch_plain_daily_bars(symbol, start, end))

    def fetch_price_ticks(
        self, symbol: Symbol, start: dt.date | None = None, end: dt.date | None = None, adjust: Adjust = Adjust.QFQ
    ) -> PriceTicks:
        return self._first_answer(symbol, lambda provider: provider.fetch_price_ticks(symbol, start, end, adjust))

    def fetch_fund_splits(self, year: int) -> list[AnnouncedRecord]:
        return self._first_table("fund split table", lambda provider: provider.fetch_fund_splits(year))

    def fetch_stock_bonuses(self, codes: Sequence[str]) -> list[AnnouncedRecord]:
        return self._first_table("stock dividend table", lambda provider: provider.fetch_stock_bonuses(codes))

    def _first_table(self, table: str, ask: Callable[[MarketDataProvider], T]) -> T:
        """The first provider that has ``table`` answers (its errors are the answer's: a table is one
        provider's own, another cannot stand in for it); those without it are skipped."""
        for provider in self.providers:
            try:
                return ask(provider)
            except NotSupported:
                continue
        raise NotSupported(f"none of {', '.join(p.name for p in self.providers)} has a {table}")

    def _first_answer(self, symbol: Symbol, ask: Callable[[MarketDataProvider], T]) -> T:
        """The first provider's answer; "no such instrument" is an answer too."""
        errors: list[ProviderError] = []
        for provider in self.providers:
            try:
                return ask(provider)
            except UnknownInstrument:
                raise
            except ProviderError as exc:
                errors.append(exc)
        kinds = {type(exc) for exc in errors}
        error_class = kinds.pop() if len(kinds) == 1 else ProviderError
        first = errors[0]
        raise error_class(
            "every provider failed: "
            + "; ".join(f"{p.name}: {e}" for p, e in zip(self.providers, errors, strict=True)),
            host=first.host,
            symbol=symbol.canonical,
            status=first.status,
            snippet=first.snippet,
        )


def provider_names() -> list[str]:
    return sorted(PROVIDERS)


def build_provider(name: str | None = None) -> MarketDataProvider:
    """The provider ``name``, or (None) the ``MARKETDATA["PROVIDERS"]`` chain from settings.

    Raises ``ValueError`` naming the valid providers for an unknown name.
    """
    names = [name] if name is not None else list(settings.MARKETDATA["PROVIDERS"])
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown or not names:
        raise ValueError(
            f"unknown market-data provider {', '.join(map(repr, unknown)) or '(none configured)'}; "
            f"valid: {', '.join(provider_names())}"
        )
    providers = [PROVIDERS[n]() for n in names]
    return providers[0] if len(providers) == 1 else FallbackProvider(providers)
