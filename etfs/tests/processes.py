"""Syncs in real processes: a migrated scratch database of their own and ``manage.py`` children.

For what only separate processes show: ``kill -9`` and SIGTERM mid-backfill, two syncs
sharing one request budget. The scratch database is a copy of one database migrated per test
run: a file in the test's temporary directory on SQLite, ``CREATE DATABASE … TEMPLATE`` on the
test's PostgreSQL server otherwise. TimescaleDB's tier skips these tests (``not_on_timescale``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from etfs.simulator.server import Simulator

ROOT = Path(__file__).resolve().parents[2]

BARS_SQL = """
SELECT i.symbol, b.time, b.open, b.high, b.low, b.close, b.volume, b.amount
FROM prices_dailybar b JOIN etfs_instrument i ON i.id = b.instrument_id
ORDER BY i.symbol, b.time
"""
RUNS_SQL = "SELECT id, kind, status, message FROM etfs_syncrun ORDER BY id"


@dataclass
class ScratchDatabase:
    """A migrated database that ``manage.py`` children share; ``env`` points them at it."""

    env: dict[str, str]
    vendor: str
    _connect: Callable[[], object] = field(repr=False)

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def scalar(self, sql: str) -> int:
        """One number, read directly (no Django: the test's own connection is another database)."""
        conn = self._connect()
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            return int(cursor.fetchone()[0] or 0)
        finally:
            conn.close()

    def rows(self, sql: str) -> list[tuple]:
        conn = self._connect()
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            return cursor.fetchall()
        finally:
            conn.close()

    def contents(self) -> tuple[list[tuple], list[dict]]:
        """Every stored bar (symbol, date, prices as ``Decimal``…) and every sync run, read directly
        (a ``manage.py shell`` child would cost a Django start-up per test)."""
        bars = [_bar_key(row) for row in self.rows(BARS_SQL)]
        runs = [dict(zip(("id", "kind", "status", "message"), row, strict=True)) for row in self.rows(RUNS_SQL)]
        return bars, runs


def _bar_key(row: tuple) -> tuple:
    from prices.models import time_to_trading_date  # not at import: conftest imports this module early

    symbol, time, o, h, lo, c, volume, amount = row
    if isinstance(time, str):  # SQLite: naive UTC text
        time = dt.datetime.fromisoformat(time).replace(tzinfo=dt.UTC)
    prices = tuple(_decimal(value) for value in (o, h, lo, c))
    return (symbol, time_to_trading_date(time).isoformat(), *prices, int(volume), _decimal(amount))


def _decimal(value: object) -> Decimal:
    """SQLite hands back a numeric column as a float: its shortest repr is the stored decimal."""
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def truth_bars(sim: Simulator, *, is_etf: bool = True) -> list[tuple]:
    """Every bar the simulator serves for its listed instruments of one kind, as ``bars()`` gives them."""
    rows = []
    for instrument in sorted(sim.market.listed(), key=lambda i: i.symbol.canonical):
        if instrument.is_etf != is_etf:
            continue
        for b in sim.market.bars(instrument.symbol, "none"):
            rows.append(
                (
                    instrument.symbol.canonical,
                    b.day.isoformat(),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    int(b.volume),
                    b.amount,
                )
            )
    return rows


def simulator_env(sim: Simulator, **marketdata: str) -> dict[str, str]:
    return {
        "EASTMONEY_LIST_URL": sim.list_url,
        "EASTMONEY_KLINE_URL": sim.kline_url,
        "TENCENT_KLINE_URL": sim.tencent_url,
        **sim.table_urls(),
        **sim.fund_env(),  # were the fund phase on, it would ask the simulator, never the internet
        "FUNDDATA_SYNC": "0",  # off, as in-process tests have it: the price hosts' requests alone
        "MARKETDATA_PROVIDERS": "eastmoney",
        "MARKETDATA_BACKOFF_BASE": "0.01",
        "MARKETDATA_BACKOFF_MAX": "0.05",
        "LOG_LEVEL": "WARNING",
        **marketdata,
    }


# Separate processes prove what they prove on any SQL database; TimescaleDB adds nothing for
# them (its hypertables are PostgreSQL to these tests) but their seconds: they skip that tier.
not_on_timescale = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] == "timescale.db.backends.postgresql",
    reason="process tests run on the SQLite and PostgreSQL tiers (TimescaleDB adds only their cost)",
)


# What one tier proves for all (the file budget, some crash variants) runs on SQLite only.
only_on_sqlite = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="one tier proves it for all: the SQLite tier runs it",
)


def _scratch_env(rate_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    env.update({"DEBUG": "1", "MARKETDATA_RATE_DIR": str(rate_dir), "PYTHONUNBUFFERED": "1"})
    return env


def _postgres_server() -> dict[str, object]:
    conf = settings.DATABASES["default"]
    return {
        "host": conf["HOST"] or "localhost",
        "port": conf["PORT"] or 5432,
        "user": conf["USER"],
        "password": conf["PASSWORD"] or None,
    }


def _postgres_url(name: str) -> str:
    server = _postgres_server()
    password = f":{server['password']}" if server["password"] else ""
    engine = settings.DATABASES["default"]["ENGINE"]
    scheme = "timescale" if engine == "timescale.db.backends.postgresql" else "postgres"
    return f"{scheme}://{server['user']}{password}@{server['host']}:{server['port']}/{name}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Iterator[str]:
    """One migrated database per test run that every scratch database copies (a file copy on
    SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL): ``migrate`` in a child costs seconds."""
    directory = tmp_path_factory.mktemp("scratch-template")
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        path = directory / "template.sqlite3"
        _migrate({**_scratch_env(directory), "SQLITE_PATH": str(path)})
        yield str(path)
        return
    import psycopg2

    name = f"etfsync_template_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **_postgres_server())
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        _migrate({**_scratch_env(directory), "DATABASE_URL": _postgres_url(name)})
        yield name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def scratch_database(tmp_path, migrated_template) -> Iterator[ScratchDatabase]:
    """A fresh migrated database of this test's own, for ``manage.py`` children."""
    env = _scratch_env(tmp_path)
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        import sqlite3

        path = tmp_path / "scratch.sqlite3"
        shutil.copyfile(migrated_template, path)
        env["SQLITE_PATH"] = str(path)
        yield ScratchDatabase(env, "sqlite", lambda: sqlite3.connect(path, timeout=30))
        return
    import psycopg2

    server = _postgres_server()
    name = f"etfsync_scratch_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    env["DATABASE_URL"] = _postgres_url(name)
    try:
        yield ScratchDatabase(env, "postgresql", lambda: psycopg2.connect(dbname=name, **server))
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)


def stop(process: subprocess.Popen, how: signal.Signals) -> tuple[int, str]:
    process.send_signal(how)
    out, _ = process.communicate(timeout=60)
    return process.returncode, out


def busiest_window(times: list[float], seconds: float = 1.0) -> int:
    """The most entries in any window of ``seconds`` (half-open, as the simulator counts)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
