"""Locks that the operating system or the database releases when their holder's process dies.

They answer "is the process that owns this job still alive?" at once, without waiting for a
heartbeat to go stale: ``kill -9`` closes the process's files (releasing ``flock``) and its
database session (releasing PostgreSQL session advisory locks).

- PostgreSQL / TimescaleDB: ``pg_try_advisory_lock`` on the Django connection of the calling
  thread (the one connection the sync writes through: no extra connection per run). A
  session may take its own advisory lock twice, so each
  thread remembers which keys its session holds and reports those as busy.
- SQLite (and anything else): ``fcntl.flock`` on a lock file next to the database file. Each
  acquisition opens its own file description, so two holders in one process exclude each
  other too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from pathlib import Path

from django.db import connection

_held = threading.local()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def lock_path(name: str) -> Path:
    """The lock file of ``name``: one per database file (in-memory databases: one per process)."""
    db = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and db and "memory" not in db and not db.startswith("file:"):
        return Path(f"{Path(db).resolve()}.{name}.lock")
    tag = hashlib.blake2b(f"{os.getpid()}/{db}".encode(), digest_size=6).hexdigest()
    return Path(tempfile.gettempdir()) / f"etfsync-{tag}.{name}.lock"


class ProcessLock:
    """A named, non-blocking lock held until ``release`` or the holder's death."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.vendor = connection.vendor
        self._fd: int | None = None
        self._key: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._key is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody alive holds it; never waits."""
        if self.held:
            return True
        if self.vendor == "postgresql":
            return self._try_advisory()
        return self._try_flock()

    def release(self) -> None:
        if self._key is not None:
            key, self._key = self._key, None
            _session_keys().discard(key)
            with contextlib.suppress(Exception), connection.cursor() as cursor:  # a lost session released it already
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _try_advisory(self) -> bool:
        key = lock_key(f"etfsync/{self.name}")
        if key in _session_keys():
            return False  # this very session holds it for another job: busy, not re-entrant
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                return False
        _session_keys().add(key)
        self._key = key
        return True

    def _try_flock(self) -> bool:
        path = lock_path(self.name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for whoever looks: which process holds it
        self._fd = fd
        return True

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _session_keys() -> set[int]:
    """Advisory keys held by this thread's database session."""
    keys = getattr(_held, "keys", None)
    if keys is None:
        keys = _held.keys = set()
    return keys
