"""Syncs in real processes: a migrated scratch database of their own and ``manage.py`` children.

For what only separate processes show: ``kill -9`` and SIGTERM mid-backfill, two syncs
sharing one request budget. The scratch database is a file beside the test's temporary
directory on SQLite, a fresh database on the test's PostgreSQL or TimescaleDB server otherwise.
"""

from __future__ import annotations

import json
import os
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

DUMP = """
import json
from etfs.models import SyncRun
from prices.models import DailyBar, time_to_trading_date
rows = DailyBar.objects.select_related("instrument").order_by("instrument__symbol", "time")
bars = [[b.instrument.symbol, time_to_trading_date(b.time).isoformat(), str(b.open), str(b.high),
         str(b.low), str(b.close), b.volume, str(b.amount)] for b in rows.iterator()]
runs = [{"id": r.id, "kind": r.kind, "status": r.status, "message": r.message} for r in SyncRun.objects.order_by("id")]
print(json.dumps({"bars": bars, "runs": runs}))
"""


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

    def shell_json(self, code: str) -> object:
        result = self.manage("shell", "--no-imports", "-c", code)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def contents(self) -> tuple[list[tuple], list[dict]]:
        """Every stored bar (symbol, date, prices as ``Decimal``…) and every sync run, in one child."""
        dump = self.shell_json(DUMP)
        return [_bar_key(row) for row in dump["bars"]], dump["runs"]


def _bar_key(row: list) -> tuple:
    symbol, day, o, h, lo, c, volume, amount = row
    return (symbol, day, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), int(volume), Decimal(amount))


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
        **sim.fund_env(),  # the ETF sync's fund phase asks the simulator too, never the internet
        "MARKETDATA_PROVIDERS": "eastmoney",
        "MARKETDATA_BACKOFF_BASE": "0.01",
        "MARKETDATA_BACKOFF_MAX": "0.05",
        "LOG_LEVEL": "WARNING",
        **marketdata,
    }


@pytest.fixture
def scratch_database(tmp_path) -> Iterator[ScratchDatabase]:
    engine = settings.DATABASES["default"]["ENGINE"]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    env.update({"DEBUG": "1", "MARKETDATA_RATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"})
    if engine == "django.db.backends.sqlite3":
        import sqlite3

        path = tmp_path / "scratch.sqlite3"
        env["SQLITE_PATH"] = str(path)
        db = ScratchDatabase(env, "sqlite", lambda: sqlite3.connect(path, timeout=30))
        _migrate(db)
        yield db
        return
    import psycopg2

    conf = settings.DATABASES["default"]
    server = {
        "host": conf["HOST"] or "localhost",
        "port": conf["PORT"] or 5432,
        "user": conf["USER"],
        "password": conf["PASSWORD"] or None,
    }
    name = f"etfsync_scratch_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **server)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server["password"] else ""
    scheme = "timescale" if engine == "timescale.db.backends.postgresql" else "postgres"
    env["DATABASE_URL"] = f"{scheme}://{server['user']}{password}@{server['host']}:{server['port']}/{name}"
    db = ScratchDatabase(env, "postgresql", lambda: psycopg2.connect(dbname=name, **server))
    try:
        _migrate(db)
        yield db
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _migrate(db: ScratchDatabase) -> None:
    result = db.manage("migrate", "--no-input", "-v0")
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
