"""Sync benchmark: backfill N ETFs x Y years, re-run, then one daily update, into PostgreSQL.

The simulator runs in this process (30 ms latency, 50 requests/s limit) so that its day can
move forward without a restart: a restarted simulator with another ``--today`` generates
another history, which the sync rightly treats as a provider that revised everything. The
sync runs as ``manage.py sync_etfs`` in a child process, measured with ``/usr/bin/time``.

    .venv/bin/python bench/sync_bench.py --etfs 1000 --years 10 --workers 8
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")

import django  # noqa: E402

django.setup()

from etfs.simulator.market import SimConfig  # noqa: E402
from etfs.simulator.server import run_simulator  # noqa: E402
from tools.dbservers import postgres_cluster  # noqa: E402

TODAY = dt.date(2026, 11, 20)
NEXT_DAY = dt.date(2026, 11, 23)


def sync(database_url: str, sim, workers: int, rate: float) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        EASTMONEY_LIST_URL=sim.list_url,
        EASTMONEY_KLINE_URL=sim.kline_url,
        TENCENT_KLINE_URL=sim.tencent_url,
        MARKETDATA_RATE_LIMIT=str(rate),
    )
    command = ["/usr/bin/time", "-f", "peak_rss_kb=%M", sys.executable, "manage.py", "sync_etfs"]
    started = time.perf_counter()
    proc = subprocess.run([*command, "--workers", str(workers)], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    out = proc.stdout + proc.stderr
    summary = re.search(r": (\w+) in ([\d.]+)s", out)
    bars = re.search(r"bars (\d+) inserted, (\d+) updated, (\d+) unchanged", out)
    requests = re.search(r"requests (\d+)", out)
    synced = re.search(r"(\d+) synced", out)
    return {
        "exit": proc.returncode,
        "status": summary[1] if summary else "?",
        "sync_s": float(summary[2]) if summary else None,
        "process_s": round(wall, 1),
        "instruments": int(synced[1]) if synced else None,
        "bars_inserted": int(bars[1]) if bars else None,
        "bars_updated": int(bars[2]) if bars else None,
        "requests": int(requests[1]) if requests else None,
        "peak_rss_mb": round(int(re.search(r"peak_rss_kb=(\d+)", out)[1]) / 1024) if "peak_rss_kb" in out else None,
    }


def raw_copy_rows_per_s(database_url: str) -> float:
    """The physical ceiling: the stored bars COPYed back into the emptied table."""
    import psycopg2

    columns = "instrument_id, time, open, high, low, close, volume, amount"
    with contextlib.closing(psycopg2.connect(database_url)) as conn, conn.cursor() as cur:
        buffer = io.StringIO()
        cur.copy_expert(f"COPY (SELECT {columns} FROM prices_dailybar) TO STDOUT", buffer)
        rows = buffer.getvalue().count("\n")
        cur.execute("CREATE TEMP TABLE kept AS SELECT * FROM prices_dailybar")
        cur.execute("TRUNCATE prices_dailybar")
        buffer.seek(0)
        started = time.perf_counter()
        cur.copy_expert(f"COPY prices_dailybar ({columns}) FROM STDIN", buffer, 1 << 20)
        seconds = time.perf_counter() - started
        conn.rollback()  # keep the synced rows as they were
    return rows / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--etfs", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    config = SimConfig(n_etfs=args.etfs, n_stocks=0, years=args.years, today=TODAY, seed=1, latency=0.03, rps_limit=50)
    with postgres_cluster() as database_url, run_simulator(config) as sim:
        env = {**os.environ, "DATABASE_URL": database_url}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        for inst in sim.market.instruments():  # generate the simulator's data before timing
            sim.market.bars(inst.symbol)
        rate = 50 * 0.96  # polite: just under the host's limit
        backfill = sync(database_url, sim, args.workers, rate)
        rerun = sync(database_url, sim, args.workers, rate)
        sim.set_today(NEXT_DAY)
        daily = sync(database_url, sim, args.workers, rate)
        ceiling = raw_copy_rows_per_s(database_url)
    etfs_per_s = backfill["instruments"] / backfill["sync_s"] if backfill["sync_s"] else 0
    print(f"backfill: {backfill}  -> {etfs_per_s:.1f} ETFs/s")
    print(f"re-run:   {rerun}")
    print(f"daily:    {daily}")
    print(f"raw COPY ceiling: {ceiling:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
