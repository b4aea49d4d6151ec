"""``--verify-adjustments``: compare our qfq and hfq with the provider's, repair the actions.

Per instrument, three requests: the raw series and the provider's qfq and hfq series, whole.
Our adjusted prices (the stored raw bars with the stored actions, what the API serves) are
compared day by day with the provider's; the actions are then re-derived from the series
(``etfs.sync.steps``: the qfq steps, with the hfq series pinning what qfq leaves open, such as
cash 0.346 vs 0.35 on a stock quoted to 0.01, or an odd conversion ratio's last decimals),
recorded (manual rows are never touched), and the comparison repeated. The report says
which days were wrong before and after, and what changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from etfs.models import Instrument
from etfs.providers.base import Adjust, MarketDataProvider, PriceTicks
from etfs.providers.errors import ProviderError, ProviderUnavailable
from etfs.symbols import Symbol, parse_symbol
from etfs.sync import service
from etfs.sync.actions import ActionChanges, Findings, Source, record_actions, stored_actions
from etfs.sync.bars import stored_price_ticks
from etfs.sync.options import SyncOptionError, check_kind
from etfs.sync.steps import SeriesMismatch, find_actions, mismatched_days, pin_with_hfq

logger = logging.getLogger(__name__)


@dataclass
class AuditResult:
    """One instrument's audit: days whose qfq/hfq differ from the provider's, before and after."""

    symbol: str
    wrong_before: dict[str, int] = field(default_factory=dict)
    wrong_after: dict[str, int] = field(default_factory=dict)
    changes: ActionChanges = field(default_factory=ActionChanges)
    error: str = ""

    @property
    def settled(self) -> bool:
        return not self.error and not any(self.wrong_after.values())

    def describe(self) -> str:
        if self.error:
            return f"{self.symbol}: not audited: {self.error}"
        before = ", ".join(f"{k} {v} day(s)" for k, v in self.wrong_before.items() if v) or "none"
        after = ", ".join(f"{k} {v} day(s)" for k, v in self.wrong_after.items() if v) or "none"
        parts = [f"{self.symbol}: wrong before: {before}; after: {after}"]
        for what, rows in (
            ("added", self.changes.created),
            ("corrected", self.changes.updated),
            ("removed", self.changes.deleted),
        ):
            for _, day, old, new in rows:
                parts.append(f"  {what} {day}: {_terms(old)} -> {_terms(new)}")
        return "\n".join(parts)


def _terms(action) -> str:
    return "-" if action is None else f"cash {action.cash.normalize()}, ratio {action.split_ratio.normalize()}"


def verify_adjustments(
    instruments: list[Instrument],
    provider: MarketDataProvider,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[AuditResult]:
    """Audit and repair each instrument; a provider refusing everything stops the audit."""
    results = []
    for index, instrument in enumerate(instruments):
        try:
            results.append(_audit(instrument, provider))
        except ProviderUnavailable:
            raise
        except (ProviderError, SeriesMismatch) as exc:
            results.append(AuditResult(instrument.symbol, error=str(exc)))
        if progress:
            progress("audit", index + 1, len(instruments))
    return results


def _audit(instrument: Instrument, provider: MarketDataProvider) -> AuditResult:
    symbol: Symbol = parse_symbol(instrument.symbol)
    series = provider.fetch_daily_bars(symbol)
    raw = PriceTicks.from_bars(series.bars, series.decimals)
    qfq = provider.fetch_price_ticks(symbol, None, None, Adjust.QFQ)
    hfq = provider.fetch_price_ticks(symbol, None, None, Adjust.HFQ)
    result = AuditResult(instrument.symbol)
    ours = stored_price_ticks(instrument.pk, instrument.price_decimals)
    known = stored_actions([instrument.pk]).get(instrument.pk, [])
    result.wrong_before = _wrong(ours, qfq, hfq, known)
    if len(raw) >= 2:
        actions = pin_with_hfq(raw, qfq, hfq, find_actions(raw, qfq, known=known))
        result.changes = record_actions(
            {instrument.pk: Findings(actions, Source.PROVIDER, window=(raw.days[0], raw.days[-1]))}
        )
    result.wrong_after = _wrong(ours, qfq, hfq, stored_actions([instrument.pk]).get(instrument.pk, []))
    logger.info("%s", result.describe())
    return result


def _wrong(ours: PriceTicks, qfq: PriceTicks, hfq: PriceTicks, actions) -> dict[str, int]:
    return {
        "qfq": len(mismatched_days(ours, qfq, actions, "qfq")),
        "hfq": len(mismatched_days(ours, hfq, actions, "hfq")),
    }


def audit_adjustments(
    kind: str,
    *,
    symbols: Sequence[Symbol] = (),
    provider: str | MarketDataProvider | None = None,
    limit: int | None = None,
    offset: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[AuditResult]:
    """Audit the active instruments of ``kind`` (or ``symbols``; ``limit`` from ``offset``
    of them in symbol order, wrapping, for a rotating sample). Raises ``SyncOptionError``
    for an unknown kind, symbol or provider, before any request."""
    check_kind(kind)
    queryset = Instrument.objects.of_kind(kind)
    if symbols:
        instruments = list(queryset.filter(symbol__in=[s.canonical for s in symbols]).order_by("symbol"))
        missing = {s.canonical for s in symbols} - {i.symbol for i in instruments}
        if missing:
            raise SyncOptionError(f"--symbols: not among the stored {kind}: {', '.join(sorted(missing))}")
    else:
        instruments = list(queryset.active().order_by("symbol"))
    if limit is not None and instruments:
        start = offset % len(instruments)
        instruments = (instruments[start:] + instruments[:start])[:limit]
    source, owned = service._build_provider(provider)  # looked up per call: tests substitute it
    try:
        return verify_adjustments(instruments, source, progress)
    finally:
        if owned:
            source.close()
