"""One request budget per quote host for every process on the machine (or sharing a database).

Each process paces its own threads (``http.RateLimiter``); this module makes the processes
share one budget: the ETF and the stock sync, django-q2 workers and a manual run together
send at most ``cap`` requests to a host in any window of ``window`` seconds (``budget``),
so no one-second window holds more than the setting.

**The invariant.** The shared state of a host is ``cap`` entries, each the interval
``[taken, sent]`` of one request: ``taken`` is read from the budget's clock when the request
takes its entry, right before its bytes are written (``http``'s connections take it after
connecting), ``sent`` from the same clock after the write returned (``+inf`` until then). So
the request left inside its interval whatever the machine's load. A request may take an entry
only when fewer than ``cap`` requests have ``sent > now - window`` — those that may have left
in the last ``window`` seconds, or may still leave. Then no interval of ``window`` seconds
holds more than ``cap`` writes: of any such set, the last to take its entry found all the
others in the count (each left at or after the interval's start, so after ``now - window``).
Nothing depends on how late a thread wakes, how long a write takes or which process is
slow: a late write only keeps its entry longer (the budget's cost of the load, not the host's).

Two bounds remain, stated rather than hidden:

- ``MARGIN_SECONDS`` covers what happens after the write: the network and the host's own
  stamping move arrivals by different amounts (a host counting per second sees sends
  ``window`` apart as closer when an earlier one was delayed more). ``budget`` adds it to the
  window; it is no longer spent on our own scheduling.
- A process killed between taking and confirming leaves an entry that counts as sent
  ``PENDING_EXPIRY`` seconds after it was taken (a dead sync cannot block the host's budget
  for ever). A live request that finds more than ``MAX_TAKE_LAG`` seconds between asking and
  holding its entry gives it back unsent and asks again; the guarantee assumes no live process
  is then stalled for the remaining 9 s between that check and its write returning.
- The database's ``clock_timestamp()`` and Redis's ``TIME`` are wall clocks: a step of the
  server's clock (not NTP's slewing) during a window shifts it by that step.

A caller that may not take an entry yet is told how long to wait and asks again.

Backends (``MARKETDATA["RATE_SHARING"]``), each with one clock for ``taken``, ``sent`` and now:

- ``file`` (default): a small file per host in ``MARKETDATA["RATE_DIR"]`` (the machine's
  temporary directory), read and written under ``flock``; about 10 µs a call. Times are
  ``CLOCK_MONOTONIC``, one clock for every process of the machine.
- ``database``: an unlogged table and one function call per take and per confirmation on
  PostgreSQL, times from the server's ``clock_timestamp()``, for processes that share a
  database but no file system (separate containers). Both readings happen on the server while
  the client waits for the call, so the write still lies between them.
- ``redis``: Lua scripts on ``Q_REDIS_URL`` (the default there), times from Redis's ``TIME``,
  shared by every machine using that Redis.
- ``off``: each process on its own.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

# Arrivals at the host are sends moved by the network and the host's own stamping, by different
# amounts: the budget's window is this much longer than a second. Our own lag (a thread waking
# late, a write held up by the load) is no longer part of it: each entry records when its write
# really finished.
MARGIN_SECONDS = 0.1
# An entry taken and never confirmed (its process was killed) counts as sent this long after it was taken.
PENDING_EXPIRY = 10.0
# A request that held its entry this long before it could write gives it back and asks again,
# so no live request comes near PENDING_EXPIRY.
MAX_TAKE_LAG = 1.0
# How soon a caller asks again when every entry is taken but not yet confirmed (a write takes microseconds).
PENDING_POLL = 0.005


def budget(rate: float) -> tuple[int, float]:
    """``(cap, window)``: at most ``cap`` sends in any ``window`` seconds keeps every one-second
    window at or below ``rate``, with the network's margin (50 requests per 1.1 s at 50/s; 1 per
    2.1 s at 0.5/s)."""
    cap = max(1, math.floor(rate))
    return cap, max(1.0, cap / rate) + MARGIN_SECONDS


@dataclass(frozen=True)
class Ticket:
    """One taken entry: its index and ``taken`` time (which tells it from a later holder)."""

    slot: int
    taken: float
    store: Any = None  # what else its backend needs to find it (Redis: ``taken`` as it wrote it)


def choose(entries: list[tuple[float, float]], now: float, window: float, first: int = 0) -> tuple[int, float]:
    """``(slot, 0)`` of an entry whose request can no longer share a window with one leaving now,
    or ``(-1, seconds to wait)``. ``entries`` are ``(taken, sent)``; ``sent`` is ``inf`` until
    confirmed, and a pending entry counts as sent ``PENDING_EXPIRY`` after it was taken. The
    search starts at ``first`` (the oldest taken, the likeliest free: one look when nobody waits)."""
    wait = math.inf
    count = len(entries)
    for step in range(count):
        slot = (first + step) % count
        taken, sent = entries[slot]
        pending = math.isinf(sent) and sent > 0
        last = taken + PENDING_EXPIRY if pending else sent
        if last + window <= now:
            return slot, 0.0
        wait = min(wait, PENDING_POLL if pending else last + window - now)
    return -1, max(wait, 1e-6)


_HEADER = struct.Struct("<dII")  # paused_until, cap, next (the slot after the last taken)
_ENTRY = struct.Struct("<dd")  # taken, sent
_FREE = _ENTRY.pack(float("-inf"), float("-inf"))


class SharedWindow(Protocol):
    def take(self, cap: int, window: float) -> tuple[float, Ticket | None]:
        """Take an entry now (``(0, ticket)``), or say how many seconds to wait (``(seconds, None)``)."""

    def sent(self, ticket: Ticket) -> None:
        """The request of ``ticket`` has been written: record when, on the budget's clock."""

    def release(self, ticket: Ticket) -> None:
        """The request of ``ticket`` was not sent: its entry is free again."""

    def pause(self, seconds: float) -> None:
        """Nobody starts for ``seconds`` (the host said ``Retry-After``)."""


class FileWindow:
    """The entries in a file: ``paused_until, cap, next`` then ``cap`` pairs ``(taken, sent)``."""

    def __init__(self, host: str, directory: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = directory / f"etfsync-budget-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}.bin"
        self._clock = clock
        self._fd: int | None = None
        self._pid = 0
        self._lock = threading.Lock()  # flock does not exclude threads sharing one open file

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            self._pid = os.getpid()
            if os.fstat(self._fd).st_uid == os.getuid():
                os.fchmod(self._fd, 0o666)  # every user's syncs share the budget
        return self._fd

    def _locked(self, work: Callable[[int, float], Any]) -> Any:
        with self._lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                return work(fd, self._clock())
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def take(self, cap: int, window: float) -> tuple[float, Ticket | None]:
        def work(fd: int, now: float) -> tuple[float, Ticket | None]:
            header = os.pread(fd, _HEADER.size, 0)
            paused, stored_cap, first = _HEADER.unpack(header) if len(header) == _HEADER.size else (0.0, 0, 0)
            if stored_cap == cap and paused <= now:  # the oldest taken first: when nobody waits, it is free
                first %= cap
                offset = _HEADER.size + first * _ENTRY.size
                raw = os.pread(fd, _ENTRY.size, offset)
                oldest = _ENTRY.unpack(raw) if len(raw) == _ENTRY.size else (math.inf, math.inf)
                if oldest[0] <= now and choose([oldest], now, window)[0] == 0:
                    os.pwrite(fd, _ENTRY.pack(now, math.inf), offset)
                    os.pwrite(fd, _HEADER.pack(paused, cap, (first + 1) % cap), 0)
                    return 0.0, Ticket(first, now)
            raw = os.pread(fd, _ENTRY.size * cap, _HEADER.size)
            entries = list(_ENTRY.iter_unpack(raw)) if len(raw) == _ENTRY.size * cap else []
            # A new file, another cap, or times from a previous boot's clock: start afresh.
            if stored_cap != cap or not entries or paused > now + 3600 or max(t for t, _ in entries) > now:
                paused, first, entries = 0.0, 0, [(-math.inf, -math.inf)] * cap
                os.ftruncate(fd, 0)
                os.pwrite(fd, _HEADER.pack(0.0, cap, 0) + _FREE * cap, 0)
            if paused > now:
                return paused - now, None
            slot, wait = choose(entries, now, window, first % cap)
            if slot < 0:
                return wait, None
            os.pwrite(fd, _ENTRY.pack(now, math.inf), _HEADER.size + slot * _ENTRY.size)
            os.pwrite(fd, _HEADER.pack(paused, cap, (slot + 1) % cap), 0)
            return 0.0, Ticket(slot, now)

        return self._locked(work)

    def _finish(self, ticket: Ticket, *, sent: bool) -> None:
        def work(fd: int, now: float) -> None:
            offset = _HEADER.size + ticket.slot * _ENTRY.size
            raw = os.pread(fd, _ENTRY.size, offset)
            if len(raw) != _ENTRY.size or _ENTRY.unpack(raw)[0] != ticket.taken:
                return  # the file was reset, or the entry expired and was taken again
            os.pwrite(fd, _ENTRY.pack(ticket.taken, now) if sent else _FREE, offset)

        self._locked(work)

    def sent(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=True)

    def release(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=False)

    def pause(self, seconds: float) -> None:
        def work(fd: int, now: float) -> None:
            header = os.pread(fd, _HEADER.size, 0)
            if len(header) == _HEADER.size:
                paused, cap, first = _HEADER.unpack(header)
                os.pwrite(fd, _HEADER.pack(max(paused, now + seconds), cap, first), 0)

        self._locked(work)


class DatabaseWindow:
    """The entries in PostgreSQL (``etfs_hostbudget``, migration ``0008``), through a connection of its own.

    The fetcher threads share that one connection (under a lock): the sync's own connection
    belongs to its writer thread, and a connection per fetcher would be several more.
    """

    _connections: dict[int, Any] = {}  # a psycopg2 connection per process (a fork opens its own)
    _connections_lock = threading.Lock()

    def __init__(self, host: str) -> None:
        self.host = host

    @classmethod
    def _call(cls, sql: str, params: list) -> Any:
        with cls._connections_lock:
            conn = cls._connections.get(os.getpid())
            if conn is None or conn.closed:
                wrapper: Any = connections["default"]
                conn = wrapper.Database.connect(**wrapper.get_connection_params())
                conn.autocommit = True
                cls._connections[os.getpid()] = conn
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()[0]

    @classmethod
    def close_connections(cls) -> None:
        """Close this process's budget connection (tests, before their database is dropped)."""
        with cls._connections_lock:
            for conn in cls._connections.values():
                conn.close()
            cls._connections.clear()

    def take(self, cap: int, window: float) -> tuple[float, Ticket | None]:
        wait, slot, taken = self._call(
            "SELECT etfsync_budget_take(%s, %s, %s, %s, %s)", [self.host, cap, window, PENDING_EXPIRY, PENDING_POLL]
        )
        return (0.0, Ticket(int(slot), taken)) if slot >= 0 else (float(wait), None)

    def _finish(self, ticket: Ticket, *, sent: bool) -> None:
        self._call("SELECT etfsync_budget_done(%s, %s, %s, %s)", [self.host, ticket.slot, ticket.taken, sent])

    def sent(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=True)

    def release(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=False)

    def pause(self, seconds: float) -> None:
        self._call("SELECT etfsync_budget_pause(%s, %s)", [self.host, seconds])


REDIS_TAKE = """
-- KEYS[1] the host's entries; ARGV: cap, window, pending expiry, poll. Returns {wait, slot, taken} as text.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local cap, window, expiry, poll = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if paused > now then return {tostring(paused - now), '-1', '0'} end
if tonumber(redis.call('HGET', KEYS[1], 'cap') or '0') ~= cap then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'cap', cap)
end
local wait = math.huge
for i = 0, cap - 1 do
  local taken = redis.call('HGET', KEYS[1], 't' .. i)
  local sent = redis.call('HGET', KEYS[1], 's' .. i)
  local last, pending = -1e18, false
  if taken then
    if sent then last = tonumber(sent) else last = tonumber(taken) + expiry; pending = true end
  end
  if last + window <= now then
    local stamp = string.format('%.6f', now)
    redis.call('HSET', KEYS[1], 't' .. i, stamp)
    redis.call('HDEL', KEYS[1], 's' .. i)
    redis.call('EXPIRE', KEYS[1], 3600)
    return {'0', tostring(i), stamp}
  end
  if pending then wait = math.min(wait, poll) else wait = math.min(wait, last + window - now) end
end
return {tostring(math.max(wait, 1e-6)), '-1', '0'}
"""

REDIS_DONE = """
-- KEYS[1] the host's entries; ARGV: slot, taken (as take returned it), 1 sent / 0 given back
if redis.call('HGET', KEYS[1], 't' .. ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 's' .. ARGV[1], tonumber(t[1]) + tonumber(t[2]) / 1e6)
else
  redis.call('HDEL', KEYS[1], 't' .. ARGV[1], 's' .. ARGV[1])
end
return 1
"""

REDIS_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
redis.call('HSET', KEYS[1], 'paused', math.max(paused, now + tonumber(ARGV[1])))
return 0
"""


class RedisWindow:
    """The entries in a Redis hash, each step one atomic Lua script (Redis's clock)."""

    def __init__(self, host: str, url: str) -> None:
        import redis  # only with Q_REDIS_URL: an optional server

        self.key = f"etfsync:budget:{host}"
        self._client = redis.Redis.from_url(url)
        self._take = self._client.register_script(REDIS_TAKE)
        self._done = self._client.register_script(REDIS_DONE)
        self._pause = self._client.register_script(REDIS_PAUSE)

    def take(self, cap: int, window: float) -> tuple[float, Ticket | None]:
        wait, slot, taken = (
            v.decode() if isinstance(v, bytes) else str(v)
            for v in self._take(keys=[self.key], args=[cap, window, PENDING_EXPIRY, PENDING_POLL])
        )
        if int(slot) < 0:
            return float(wait), None
        return 0.0, Ticket(int(slot), float(taken), taken)

    def _finish(self, ticket: Ticket, *, sent: bool) -> None:
        self._done(keys=[self.key], args=[ticket.slot, ticket.store, 1 if sent else 0])

    def sent(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=True)

    def release(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=False)

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.key], args=[seconds])


class FallbackWindow:
    """A shared store (database, Redis) that falls back to the machine's file budget when it fails:
    an unreachable Redis must not stop a sync, only narrow the sharing to this machine."""

    def __init__(self, primary: SharedWindow, fallback: SharedWindow, name: str) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = name
        self.failed = False

    def _failing(self, exc: Exception) -> None:
        if not self.failed:
            self.failed = True
            logger.warning("the %s request budget failed (%s): this process uses the file budget", self.name, exc)

    def take(self, cap: int, window: float) -> tuple[float, Ticket | None]:
        if not self.failed:
            try:
                wait, ticket = self.primary.take(cap, window)
                return wait, ticket and Ticket(ticket.slot, ticket.taken, (self.primary, ticket))
            except Exception as exc:
                self._failing(exc)
        wait, ticket = self.fallback.take(cap, window)
        return wait, ticket and Ticket(ticket.slot, ticket.taken, (self.fallback, ticket))

    def _finish(self, ticket: Ticket, *, sent: bool) -> None:
        store, inner = ticket.store
        try:
            (store.sent if sent else store.release)(inner)
        except Exception as exc:  # the primary's entry expires there (PENDING_EXPIRY)
            self._failing(exc)

    def sent(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=True)

    def release(self, ticket: Ticket) -> None:
        self._finish(ticket, sent=False)

    def pause(self, seconds: float) -> None:
        if not self.failed:
            try:
                self.primary.pause(seconds)
                return
            except Exception as exc:
                self._failing(exc)
        self.fallback.pause(seconds)


_windows: dict[tuple[str, str], SharedWindow] = {}
_windows_lock = threading.Lock()


def sharing_mode() -> str:
    mode = str(settings.MARKETDATA.get("RATE_SHARING", "auto") or "auto").lower()
    if mode == "auto":
        return "redis" if getattr(settings, "Q_REDIS_URL", "") else "file"
    if mode not in {"file", "database", "redis", "off"}:
        raise ValueError(f"MARKETDATA_RATE_SHARING={mode!r}: use auto, file, database, redis or off")
    return mode


def shared_window(host: str) -> SharedWindow | None:
    """The shared budget of ``host`` under the configured sharing mode (None: ``off``)."""
    mode = sharing_mode()
    if mode == "off":
        return None
    with _windows_lock:
        window = _windows.get((mode, host))
        if window is None:
            file_window = FileWindow(host, Path(settings.MARKETDATA.get("RATE_DIR") or tempfile.gettempdir()))
            if mode == "file":
                window = file_window
            elif mode == "database":
                if connection.vendor != "postgresql":
                    raise ValueError("MARKETDATA_RATE_SHARING=database needs PostgreSQL; use file on SQLite")
                window = FallbackWindow(DatabaseWindow(host), file_window, "database")
            else:
                if not getattr(settings, "Q_REDIS_URL", ""):
                    raise ValueError("MARKETDATA_RATE_SHARING=redis needs Q_REDIS_URL")
                window = FallbackWindow(RedisWindow(host, settings.Q_REDIS_URL), file_window, "Redis")
            _windows[(mode, host)] = window
        return window
