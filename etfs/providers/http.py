"""How providers talk to a quote host without getting banned: pooling, pacing, retries, a breaker.

East Money drops clients that burst (connections closed without an answer, 403/429/502, or
a 200 carrying an HTML page) and bans an IP for hours after sustained hammering. So every
host gets one pooled ``requests.Session``, a rate limiter shared by every thread of the
process and one budget shared by every process of the machine (``sharedlimit``), bounded
retries with exponential backoff and jitter, and a circuit breaker that stops a run with
``ProviderUnavailable`` instead of retrying into a longer ban.
"""

from __future__ import annotations

import email.utils
import errno
import logging
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from etfs.providers.base import RequestStats
from etfs.providers.errors import (
    BadPayload,
    NoNetwork,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    TransientError,
    UnknownInstrument,
)
from etfs.providers.sharedlimit import MAX_TAKE_LAG, SharedWindow, Ticket, budget, shared_window

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What East Money's own web page sends; plain Python clients were dropped on some edges in 2026.
BROWSER_HEADERS = {
    "User-Agent": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "Referer": "https://quote.eastmoney.com/",
    "Accept": "*/*",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8",
}
# A host asking for a longer pause than this is treated as refusing (the breaker decides).
RETRY_AFTER_CAP = 60.0
# Hosts count requests per second: the limiter's burst guard looks at the same window.
WINDOW_SECONDS = 1.0
SNIPPET_CHARS = 200

_stats_lock = threading.Lock()
# Set while a run is being interrupted (SIGTERM/SIGINT): fetcher threads send nothing more.
stop_requests = threading.Event()


def count(stats: RequestStats, counter: str, amount: int = 1) -> None:
    """Add to a ``RequestStats`` counter; providers are shared by fetcher threads."""
    with _stats_lock:
        setattr(stats, counter, getattr(stats, counter) + amount)


def _setting(key: str) -> Any:
    """A field whose default is ``settings.MARKETDATA[key]``, read when the options are made."""
    return field(default_factory=lambda: settings.MARKETDATA[key])


@dataclass(frozen=True)
class ClientOptions:
    """The network knobs, one per ``settings.MARKETDATA`` entry: the settings are the one home of
    their defaults (and the README's table documents them); a field given here overrides one."""

    connect_timeout: float = _setting("CONNECT_TIMEOUT")
    read_timeout: float = _setting("READ_TIMEOUT")
    max_attempts: int = _setting("MAX_ATTEMPTS")
    backoff_base: float = _setting("BACKOFF_BASE")
    backoff_max: float = _setting("BACKOFF_MAX")
    rate_limit: float = _setting("RATE_LIMIT")
    concurrency: int = _setting("CONCURRENCY")
    breaker_threshold: int = _setting("BREAKER_THRESHOLD")
    breaker_cooldown: float = _setting("BREAKER_COOLDOWN")

    @classmethod
    def from_settings(cls) -> ClientOptions:
        """The settings' values, counts below 1 read as 1."""
        options = cls()
        return replace(
            options,
            max_attempts=max(1, options.max_attempts),
            concurrency=max(1, options.concurrency),
            breaker_threshold=max(1, options.breaker_threshold),
        )


class RateLimiter:
    """Spaces request starts at least ``1/rate`` seconds apart, across every thread that shares it.

    A caller reserves the next free slot under the lock and sleeps outside it, so waiting
    threads queue in order and never burst. Slots carry 5 % headroom: the host measures
    arrival times, which network jitter can pull closer together than our send times.
    ``rate <= 0`` disables the limiter (tests against the local simulator).
    """

    HEADROOM = 1.05

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._starts: deque[float] = deque()

    @property
    def interval(self) -> float:
        return self.HEADROOM / self.rate if self.rate > 0 else 0.0

    @property
    def window_cap(self) -> int:
        """The most starts any one-second window may hold: what perfect spacing would give."""
        return max(1, math.ceil(WINDOW_SECONDS / self.interval)) if self.rate > 0 else 0

    def acquire(self) -> float:
        """Wait for this caller's slot; returns the seconds waited.

        Then one more guard: a thread that woke late (the process was busy parsing) would
        start right behind an on-time one, and a host counting requests per second sees a
        burst (measured: 2-5 answers of 429 per 1,000 requests at 50/s, each pausing every
        thread for a second). So a start also waits until the last second holds fewer than
        ``window_cap`` starts.
        """
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        waited = max(slot - now, 0.0)
        if waited > 0:
            self._sleep(waited)
        with self._lock:  # reserve the start: the window's oldest plus a second at the earliest
            now = max(self._clock(), slot)
            starts = self._starts
            start = max(now, starts[-1]) if starts else now
            if len(starts) >= self.window_cap:
                start = max(start, starts.popleft() + WINDOW_SECONDS)
            starts.append(start)
        if start > now:
            self._sleep(start - now)
            waited += start - now
        return waited

    def pause(self, seconds: float) -> None:
        """Hold every caller back ``seconds`` from now (the host said ``Retry-After``)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_rate_limiter(host: str, rate: float) -> RateLimiter:
    """The process-wide limiter of ``host``: every provider instance and thread shares it."""
    with _limiters_lock:
        limiter = _limiters.get(host)
        if limiter is None:
            limiter = _limiters[host] = RateLimiter(rate)
        limiter.rate = rate
        return limiter


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failed requests; while open, nothing is sent.

    After ``cooldown`` seconds one trial request goes through (half-open): success closes
    the breaker, failure opens it again. A failed request is one that exhausted its retries.
    """

    def __init__(self, threshold: int, cooldown: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.last_error: ProviderError | None = None
        self._trial_in_flight = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def allow(self) -> bool:
        """May a request be sent now? Claims the single half-open trial when the cooldown is over."""
        with self._lock:
            if self.opened_at is None:
                return True
            if not self._trial_in_flight and self._clock() - self.opened_at >= self.cooldown:
                self._trial_in_flight = True
                return True
            return False

    def seconds_until_trial(self) -> float:
        with self._lock:
            if self.opened_at is None:
                return 0.0
            return max(0.0, self.cooldown - (self._clock() - self.opened_at))

    def record_success(self) -> None:
        with self._lock:
            self.consecutive_failures = 0
            self.opened_at = None
            self._trial_in_flight = False

    def record_failure(self, error: ProviderError) -> None:
        with self._lock:
            self.consecutive_failures += 1
            self.last_error = error
            if self._trial_in_flight or self.consecutive_failures >= self.threshold:
                self.opened_at = self._clock()
            self._trial_in_flight = False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def decode_body(content: bytes) -> str:
    """Quote hosts send UTF-8; a few old pages are GB18030."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("gb18030", errors="replace")


class BudgetGate:
    """A host's entry in the machine's shared budget, taken for one request right before its bytes
    are written and confirmed right after (``sharedlimit``: the invariant).

    ``HostClient`` hands its gate to the connection of the request it sends (``sending``); the
    connection calls ``take`` once it is connected and ``sent`` once ``endheaders`` has written
    the request (a GET is its headers). A connect therefore never holds an entry.
    """

    def __init__(
        self,
        window: SharedWindow,
        rate: Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.window = window
        self._rate = rate
        self._clock = clock
        self._sleep = sleep

    def take(self, host: str = "") -> Ticket:
        """Wait for an entry and hold it; gives back one that took longer than ``MAX_TAKE_LAG`` to get."""
        while True:
            cap, window = budget(self._rate())
            asked = self._clock()
            wait, ticket = self.window.take(cap, window)
            if ticket is not None:
                if self._clock() - asked <= MAX_TAKE_LAG:
                    return ticket
                self.window.release(ticket)  # held too long before writing: the entry may have expired
                continue
            if stop_requests.is_set():
                raise ProviderUnavailable("not sent: the run is being interrupted", host=host)
            self._sleep(wait)

    def sent(self, ticket: Ticket) -> None:
        self.window.sent(ticket)


_sending = threading.local()  # the gate of the request this thread is sending (``HostClient._attempt``)


class _BudgetedSend:
    """urllib3's connection, taking the shared budget's entry between connecting and writing."""

    sock: Any
    connect: Callable[[], None]

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        gate: BudgetGate | None = getattr(_sending, "gate", None)
        if gate is None:
            return super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]
        if self.sock is None:
            self.connect()  # before the entry: a slow connect must not hold it
        ticket = gate.take(getattr(_sending, "host", ""))
        try:
            return super().endheaders(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]
        finally:
            gate.sent(ticket)  # also after a failed write: some bytes may have left


class BudgetedHTTPConnection(_BudgetedSend, HTTPConnection):
    pass


class BudgetedHTTPSConnection(_BudgetedSend, HTTPSConnection):
    pass


class BudgetedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = BudgetedHTTPConnection


class BudgetedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = BudgetedHTTPSConnection


class BudgetedAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose pools make ``Budgeted*Connection``s."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": BudgetedHTTPConnectionPool,
            "https": BudgetedHTTPSConnectionPool,
        }


class HostClient:
    """Every request to one host goes through here: one pooled session, pacing, retries, breaker.

    ``get`` takes a ``parse`` callable that runs inside the retry loop, so a truncated or
    HTML body (``BadPayload``) is retried like a 5xx; ``UnknownInstrument`` is an answer,
    returned to the caller at once and counted as a success.
    """

    def __init__(
        self,
        host: str,
        options: ClientOptions,
        stats: RequestStats,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.options = options
        self.stats = stats
        self._sleep = sleep
        self._jitter = jitter
        self.limiter = shared_rate_limiter(host, options.rate_limit)
        # The budget this host shares with the machine's other processes (None: this process only).
        self.shared = shared_window(host) if options.rate_limit > 0 else None
        self.gate = BudgetGate(self.shared, lambda: self.limiter.rate, sleep=sleep) if self.shared else None
        self.breaker = CircuitBreaker(options.breaker_threshold, options.breaker_cooldown)
        self.session = requests.Session()
        self.session.headers.update({**BROWSER_HEADERS, **(headers or {})})
        adapter = BudgetedAdapter(pool_connections=1, pool_maxsize=options.concurrency, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def get(
        self,
        url: str,
        params: Mapping[str, Any],
        *,
        parse: Callable[[Any], T],
        symbol: str = "",
        binary: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """GET ``url`` and return ``parse(body)``, retrying transient failures within the budget.

        ``binary`` hands ``parse`` the raw bytes (spreadsheets) instead of decoded text;
        ``headers`` add to (or replace) the session's for this request (a page's own ``Referer``).
        """
        if not self.breaker.allow():
            raise self._breaker_error(symbol)
        attempts = self.options.max_attempts
        last: TransientError | None = None
        for attempt in range(1, attempts + 1):
            if last is not None:
                count(self.stats, "retries")
                delay = self._backoff(attempt - 1, last)
                logger.info("retry %d/%d in %.2fs: %s", attempt, attempts, delay, last)
                self._sleep(delay)
            self._pace()
            if stop_requests.is_set():
                raise ProviderUnavailable("not sent: the run is being interrupted", host=self.host, symbol=symbol)
            count(self.stats, "requests")
            try:
                result = self._attempt(url, params, parse, symbol, binary=binary, headers=headers)
            except UnknownInstrument:
                self.breaker.record_success()
                raise
            except TransientError as exc:
                last = exc
                continue
            except NoNetwork:
                count(self.stats, "failures")  # not the host's fault: the breaker stays as it is
                logger.warning("no network: not retrying %s", self.host)
                raise
            except ProviderUnavailable:  # the run is being interrupted (``BudgetGate``): nothing was sent
                raise
            except ProviderError as exc:
                count(self.stats, "failures")
                self.breaker.record_failure(exc)
                raise
            self.breaker.record_success()
            return result
        assert last is not None
        error = last.with_context(reason=f"gave up after {attempts} attempts; last: {last.reason}")
        count(self.stats, "failures")
        self.breaker.record_failure(error)
        logger.warning("%s", error)
        raise error

    def _pace(self) -> None:
        """Wait for this thread's slot in the process (the machine's budget is taken at the write)."""
        self.limiter.acquire()

    def _attempt(
        self,
        url: str,
        params: Mapping[str, Any],
        parse: Callable[[Any], T],
        symbol: str,
        *,
        binary: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        context: dict[str, Any] = {"host": self.host, "symbol": symbol}
        timeout = (self.options.connect_timeout, self.options.read_timeout)
        _sending.gate, _sending.host = self.gate, self.host
        try:
            response = self.session.get(url, params=params, timeout=timeout, headers=headers)
        except requests.Timeout as exc:
            raise TransientError(
                f"timed out (connect {timeout[0]}s, read {timeout[1]}s): {type(exc).__name__}", **context
            ) from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            offline = network_down(exc)
            if offline:
                raise NoNetwork(offline, **context) from exc
            raise TransientError(f"connection failed: {_root_cause(exc)}", **context) from exc
        except requests.RequestException as exc:
            raise ProviderError(f"request could not be sent: {exc}", **context) from exc
        finally:
            _sending.gate = None
        status = response.status_code
        text = decode_body(response.content)
        snippet = " ".join(text[:SNIPPET_CHARS].split())
        context.update(status=status, snippet=snippet)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimited("rate limited (HTTP 429)", retry_after=retry_after, **context)
        if status >= 500 or status in (403, 408):
            raise TransientError(f"HTTP {status}", **context)
        if status >= 400:
            raise ProviderError(f"HTTP {status}", **context)
        if not text.strip():
            raise BadPayload("empty body", **context)
        try:
            return parse(response.content if binary else text)
        except ProviderError as exc:
            raise exc.with_context(**context) from exc

    def _backoff(self, retry_number: int, last: TransientError) -> float:
        """Exponential backoff with equal jitter; at least the host's ``Retry-After`` (capped)."""
        ceiling = min(self.options.backoff_max, self.options.backoff_base * 2 ** (retry_number - 1))
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        if isinstance(last, RateLimited) and last.retry_after:
            delay = max(delay, min(last.retry_after, RETRY_AFTER_CAP))
            self.limiter.pause(delay)
            if self.shared is not None:
                self.shared.pause(delay)
        return delay

    def _breaker_error(self, symbol: str) -> ProviderUnavailable:
        last = self.breaker.last_error
        return ProviderUnavailable(
            f"circuit breaker open: the last {self.breaker.consecutive_failures} requests to this host failed "
            f"after retries (an IP ban looks like this); not sending more for "
            f"{self.breaker.seconds_until_trial():.0f}s. Last error: {last.reason if last else 'unknown'}",
            host=self.host,
            symbol=symbol,
            status=last.status if last else None,
            snippet=last.snippet if last else "",
        )


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps: ``__cause__``, ``__context__`` and urllib3's ``reason``."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack += [inner for inner in wrapped if isinstance(inner, BaseException)]
    return seen


def network_down(exc: BaseException) -> str:
    """What says this machine cannot reach the network (DNS failure, no route), or ``""``."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return f"no network: the host name does not resolve (DNS: {cause})"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return f"no network: {os_strerror(cause)} (no route to the host)"
    return ""


def os_strerror(error: OSError) -> str:
    return error.strerror or errno.errorcode.get(error.errno or 0, str(error))


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a wrapped ``requests`` error (``RemoteDisconnected``, refused, ...)."""
    for arg in getattr(exc, "args", ()):
        reason = getattr(arg, "reason", None)  # urllib3's MaxRetryError wraps the real cause
        if reason is not None:
            return f"{type(reason).__name__}: {reason}"
    return f"{type(exc).__name__}: {exc}"


class HostClients:
    """The ``HostClient`` of each host a provider talks to, created on first use, sharing one stats."""

    def __init__(
        self,
        options: ClientOptions | None = None,
        stats: RequestStats | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options or ClientOptions.from_settings()
        self.stats = stats or RequestStats()
        self.headers = dict(headers or {})
        self._clients: dict[str, HostClient] = {}
        self._lock = threading.Lock()

    def for_url(self, url: str) -> HostClient:
        host = urlsplit(url).netloc or url
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                client = self._clients[host] = HostClient(host, self.options, self.stats, headers=self.headers)
            return client

    def get(
        self,
        url: str,
        params: Mapping[str, Any],
        *,
        parse: Callable[[Any], T],
        symbol: str = "",
        binary: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        return self.for_url(url).get(url, params, parse=parse, symbol=symbol, binary=binary, headers=headers)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
