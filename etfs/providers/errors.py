"""One exception hierarchy for every provider, caught at the edges (command, task, view).

Every message names the host, the instrument (when there is one) and what came back
(status and a short snippet of the body), because that is what a user needs to act.
"""

from __future__ import annotations

import copy
from typing import Self


class ProviderError(Exception):
    """A market-data request failed."""

    def __init__(
        self,
        message: str,
        *,
        host: str = "",
        symbol: str = "",
        status: int | None = None,
        snippet: str = "",
    ) -> None:
        self.reason = message
        self.host = host
        self.symbol = symbol
        self.status = status
        self.snippet = snippet
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts = [self.reason]
        if self.host:
            parts.append(f"host={self.host}")
        if self.symbol:
            parts.append(f"instrument={self.symbol}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.snippet:
            parts.append(f"body={self.snippet[:200]!r}")
        return " | ".join(parts)

    def with_context(
        self,
        *,
        reason: str | None = None,
        host: str = "",
        symbol: str = "",
        status: int | None = None,
        snippet: str = "",
    ) -> Self:
        """A copy with the context filled in that the raiser did not know (parsers know no host)."""
        clone = copy.copy(self)
        clone.reason = reason if reason is not None else self.reason
        clone.host = self.host or host
        clone.symbol = self.symbol or symbol
        clone.status = self.status if self.status is not None else status
        clone.snippet = self.snippet or snippet
        clone.args = (clone._compose(),)
        return clone


class TransientError(ProviderError):
    """Worth retrying: timeouts, connection errors, 5xx, unparseable bodies."""


class RateLimited(TransientError):
    """The host answered 429 (or an equivalent refusal); honour ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class BadPayload(TransientError):
    """The body could not be parsed (truncated JSON, an HTML error page, wrong shape)."""


class UnknownInstrument(ProviderError):
    """The host says it has no such instrument (East Money: ``data: null``). Not retried."""


class ProviderUnavailable(ProviderError):
    """The circuit breaker is open: the host keeps refusing (an IP ban looks like this)."""


class NotSupported(ProviderError):
    """The provider cannot answer this kind of request at all (e.g. Tencent has no instrument list)."""


class NoNetwork(ProviderUnavailable):
    """The host's name does not resolve or no route leads to it: this machine is offline (or
    its DNS is broken). Retrying cannot help and nothing else will get through either, so the
    run stops at once, saying so."""
