"""One exception hierarchy for every provider, caught at the edges (command, task, view).

Every message names the host, the instrument (when there is one) and what came back
(status and a short snippet of the body), because that is what a user needs to act.
"""

from __future__ import annotations


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
        self.host = host
        self.symbol = symbol
        self.status = status
        self.snippet = snippet
        parts = [message]
        if host:
            parts.append(f"host={host}")
        if symbol:
            parts.append(f"instrument={symbol}")
        if status is not None:
            parts.append(f"status={status}")
        if snippet:
            parts.append(f"body={snippet[:200]!r}")
        super().__init__(" | ".join(parts))


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
