"""One request budget per quote host for every process on the machine (or sharing a database).

Each process paces its own threads (``http.RateLimiter``); this module makes the processes
share one budget: the ETF and the stock sync, django-q2 workers and a manual run together
send at most ``cap`` requests to a host in any window of ``window`` seconds (``budget``),
so no one-second window holds more than the setting.

The shared state of a host is a ring of its last ``cap`` request starts. A request may start
when the start ``cap`` places back is older than the window, and then takes that slot. A
caller that may not start yet is told how long to wait and asks again: a start is recorded
only when it happens, so a caller that wakes late cannot crowd a later window.

Backends (``MARKETDATA["RATE_SHARING"]``):

- ``file`` (default): a small file per host in ``MARKETDATA["RATE_DIR"]`` (the machine's
  temporary directory), read and written under ``flock``; about 10 µs a request. Times are
  ``CLOCK_MONOTONIC``, one clock for every process of the machine.
- ``database``: an unlogged table and one function call per request on PostgreSQL (server
  clock), for processes that share a database but no file system (separate containers).
- ``redis``: a Lua script on ``Q_REDIS_URL`` (the default there), shared by every machine
  using that Redis.
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
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

# The host counts arrivals per second; our start times are not its arrival times. On a busy
# machine a send leaves tens of milliseconds after its start was recorded (measured: 429s with
# 50 ms of margin at a load of 8 on 2 cores), so the budget's window is this much longer.
MARGIN_SECONDS = 0.1


def budget(rate: float) -> tuple[int, float]:
    """``(cap, window)``: at most ``cap`` starts in any ``window`` seconds keeps every one-second
    window at or below ``rate``, with a margin (50 requests per 1.1 s at 50/s; 1 per 2.1 s at 0.5/s)."""
    cap = max(1, math.floor(rate))
    return cap, max(1.0, cap / rate) + MARGIN_SECONDS


_HEADER = struct.Struct("<dII")  # paused_until, cap, head
_SLOT = struct.Struct("<d")


class SharedWindow(Protocol):
    def try_start(self, cap: int, window: float) -> float:
        """Record a start now and return 0, or return the seconds to wait before asking again."""

    def pause(self, seconds: float) -> None:
        """Nobody starts for ``seconds`` (the host said ``Retry-After``)."""


class FileWindow:
    """The ring in a file: ``paused_until, cap, head`` then ``cap`` start times."""

    def __init__(self, host: str, directory: Path) -> None:
        self.path = directory / f"etfsync-rate-{re.sub(r'[^A-Za-z0-9.-]', '_', host)}.bin"
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

    def try_start(self, cap: int, window: float) -> float:
        with self._lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = time.monotonic()
                header = os.pread(fd, _HEADER.size, 0)
                paused, stored_cap, head = _HEADER.unpack(header) if len(header) == _HEADER.size else (0.0, 0, 0)
                if stored_cap != cap or paused > now + 3600:  # new file, another cap, or a previous boot's clock
                    paused, head = 0.0, 0
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, _HEADER.pack(0.0, cap, 0) + _SLOT.pack(float("-inf")) * cap, 0)
                if paused > now:
                    return paused - now
                offset = _HEADER.size + head * _SLOT.size
                (oldest,) = _SLOT.unpack(os.pread(fd, _SLOT.size, offset))
                if oldest > now + window:  # written under a previous boot's clock
                    oldest = float("-inf")
                if oldest + window > now:
                    return oldest + window - now
                os.pwrite(fd, _SLOT.pack(now), offset)
                os.pwrite(fd, _HEADER.pack(paused, cap, (head + 1) % cap), 0)
                return 0.0
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def pause(self, seconds: float) -> None:
        with self._lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                header = os.pread(fd, _HEADER.size, 0)
                if len(header) == _HEADER.size:
                    paused, cap, head = _HEADER.unpack(header)
                    os.pwrite(fd, _HEADER.pack(max(paused, time.monotonic() + seconds), cap, head), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


DATABASE_FUNCTION = "etfsync_rate_start"


class DatabaseWindow:
    """The ring in PostgreSQL (``etfs_hostratewindow``, migration 00xx), through a connection of its own.

    The fetcher threads share that one connection (under a lock): the sync's own connection
    belongs to its writer thread, and a connection per fetcher would be several more.
    """

    _connections: dict[int, Any] = {}  # a psycopg2 connection per process (a fork opens its own)
    _connections_lock = threading.Lock()

    def __init__(self, host: str) -> None:
        self.host = host

    @classmethod
    def _cursor_call(cls, sql: str, params: list) -> float:
        with cls._connections_lock:
            conn = cls._connections.get(os.getpid())
            if conn is None or conn.closed:
                wrapper: Any = connections["default"]
                conn = wrapper.Database.connect(**wrapper.get_connection_params())
                conn.autocommit = True
                cls._connections[os.getpid()] = conn
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return float(cursor.fetchone()[0])

    @classmethod
    def close_connections(cls) -> None:
        """Close this process's budget connection (tests, before their database is dropped)."""
        with cls._connections_lock:
            for conn in cls._connections.values():
                conn.close()
            cls._connections.clear()

    def try_start(self, cap: int, window: float) -> float:
        return self._cursor_call(f"SELECT {DATABASE_FUNCTION}(%s, %s, %s, 0)", [self.host, cap, window])

    def pause(self, seconds: float) -> None:
        self._cursor_call(f"SELECT {DATABASE_FUNCTION}(%s, 1, 1, %s)", [self.host, seconds])


REDIS_SCRIPT = """
-- KEYS[1] the host's ring; ARGV: cap, window, pause seconds
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local cap, window, pause = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused') or '0')
if pause > 0 then
  redis.call('HSET', KEYS[1], 'paused', math.max(paused, now + pause))
  return '0'
end
if paused > now then return tostring(paused - now) end
if tonumber(redis.call('HGET', KEYS[1], 'cap') or '0') ~= cap then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'cap', cap, 'head', 0)
end
local head = tonumber(redis.call('HGET', KEYS[1], 'head'))
local oldest = tonumber(redis.call('HGET', KEYS[1], 's' .. head) or '-1e18')
if oldest + window > now then return tostring(oldest + window - now) end
redis.call('HSET', KEYS[1], 's' .. head, now, 'head', (head + 1) % cap)
redis.call('EXPIRE', KEYS[1], 3600)
return '0'
"""


class RedisWindow:
    """The ring in a Redis hash, updated atomically by a Lua script (Redis's clock)."""

    def __init__(self, host: str, url: str) -> None:
        import redis  # only with Q_REDIS_URL: an optional server

        self.key = f"etfsync:rate:{host}"
        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(REDIS_SCRIPT)

    def try_start(self, cap: int, window: float) -> float:
        return float(self._script(keys=[self.key], args=[cap, window, 0]))

    def pause(self, seconds: float) -> None:
        self._script(keys=[self.key], args=[1, 1, seconds])


class FallbackWindow:
    """A shared store (database, Redis) that falls back to the machine's file budget when it fails:
    an unreachable Redis must not stop a sync, only narrow the sharing to this machine."""

    def __init__(self, primary: SharedWindow, fallback: SharedWindow, name: str) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = name
        self.failed = False

    def _call(self, method: str, *args: float) -> float:
        if not self.failed:
            try:
                return getattr(self.primary, method)(*args) or 0.0
            except Exception as exc:
                self.failed = True
                logger.warning("the %s request budget failed (%s): this process uses the file budget", self.name, exc)
        return getattr(self.fallback, method)(*args) or 0.0

    def try_start(self, cap: int, window: float) -> float:
        return self._call("try_start", cap, window)

    def pause(self, seconds: float) -> None:
        self._call("pause", seconds)


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
