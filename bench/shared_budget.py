"""What the shared per-host request budget (``etfs/providers/sharedlimit.py``) costs, and whether
it holds with two syncs at once.

1. Overhead: starts per second through each budget, alone (one thread, a budget so large that
   nobody waits): the in-process ``RateLimiter`` every process has anyway, then the machine's
   file budget, the PostgreSQL budget (one function call per start, on a throw-away local
   cluster) and the Redis budget (a Lua script on a throw-away local ``redis-server``).
2. Two syncs at once (``manage.py sync_etfs`` and ``sync_stocks`` in child processes) against
   the simulator, which answers 429 above ``--host-rps`` in any second; each sync is set to
   ``--rate``. For each sharing mode: the busiest one-second window the host saw (its own
   arrival times), its 429s, requests and wall time. ``off`` is the control.

Prints one JSON line per measurement. Needs postgresql-15 and redis-server (Debian packages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2024, 6, 28)


def busiest_window(times: list[float], seconds: float = 1.0) -> int:
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def redis_server(directory: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    server = subprocess.Popen([binary, *options], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return server, url
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer")


def starts_per_second(take, count: int) -> dict[str, float]:
    take()  # connect, create the file: not part of the steady cost
    started = time.perf_counter()
    for _ in range(count):
        take()
    seconds = time.perf_counter() - started
    return {"starts_per_s": round(count / seconds), "us_per_start": round(seconds / count * 1e6, 1)}


def overhead(count: int, redis_url: str, directory: Path) -> None:
    from etfs.providers.http import RateLimiter
    from etfs.providers.sharedlimit import DatabaseWindow, FileWindow, RedisWindow

    cap, window_seconds = count + 10, 1.1  # nobody waits: what is measured is the bookkeeping
    host = f"bench-{time.time_ns()}:80"
    windows = {
        "file": FileWindow(host, directory),
        "database (PostgreSQL)": DatabaseWindow(host),
        "redis": RedisWindow(host, redis_url),
    }
    takes = {"in-process RateLimiter": RateLimiter(1e9).acquire}
    for name, window in windows.items():
        takes[name] = lambda w=window: w.try_start(cap, window_seconds)
    for name, take in takes.items():
        print(json.dumps({"measure": "overhead", "budget": name, "starts": count, **starts_per_second(take, count)}))


def two_syncs(args, database_url: str, redis_url: str, directory: Path) -> None:
    from etfs.simulator.market import SimConfig
    from etfs.simulator.server import run_simulator

    config = SimConfig(
        n_etfs=args.etfs, n_stocks=args.stocks, years=1, today=TODAY, seed=3, latency=0.03, rps_limit=args.host_rps
    )
    for sharing in ("file", "database", "redis", "off"):
        with run_simulator(config) as sim:
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "DEBUG": "1",
                "LOG_LEVEL": "WARNING",
                "EASTMONEY_LIST_URL": sim.list_url,
                "EASTMONEY_KLINE_URL": sim.kline_url,
                "TENCENT_KLINE_URL": sim.tencent_url,
                **sim.fund_env(),
                "FUNDDATA_SYNC": "0",
                "MARKETDATA_PROVIDERS": "eastmoney",
                "MARKETDATA_RATE_LIMIT": str(args.rate),
                "MARKETDATA_CONCURRENCY": "8",
                "MARKETDATA_RATE_SHARING": sharing,
                "MARKETDATA_RATE_DIR": str(directory / sharing),
                "Q_REDIS_URL": redis_url,
            }
            (directory / sharing).mkdir()
            now = f"{TODAY.isoformat()}T16:00:00+08:00"
            started = time.monotonic()
            children = [
                subprocess.Popen(
                    [sys.executable, "manage.py", command, "--now", now, "--full"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                for command in ("sync_etfs", "sync_stocks")
            ]
            codes = [child.wait(timeout=600) for child in children]
            seconds = time.monotonic() - started
            log = sim.requests()
        print(
            json.dumps(
                {
                    "measure": "two syncs at once",
                    "sharing": sharing,
                    "setting_per_sync": args.rate,
                    "host_limit": args.host_rps,
                    "busiest_second": busiest_window([e.time for e in log]),
                    "answers_429": sum(e.status == 429 for e in log),
                    "requests": len(log),
                    "seconds": round(seconds, 1),
                    "exit_codes": codes,
                }
            ),
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=5000, help="starts per overhead measurement")
    parser.add_argument("--rate", type=float, default=20, help="each sync's MARKETDATA_RATE_LIMIT")
    parser.add_argument("--host-rps", type=int, default=20, help="the simulated host's limit per second")
    parser.add_argument("--etfs", type=int, default=60)
    parser.add_argument("--stocks", type=int, default=60)
    args = parser.parse_args()

    from tools.dbservers import postgres_cluster

    directory = Path(tempfile.mkdtemp(prefix="etfsync-budget-bench-"))
    redis, redis_url = redis_server(directory)
    try:
        with postgres_cluster() as url:
            os.environ["DATABASE_URL"] = url
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
            os.environ.setdefault("DEBUG", "1")
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            overhead(args.starts, redis_url, directory)
            two_syncs(args, url, redis_url, directory)
            from etfs.providers.sharedlimit import DatabaseWindow

            DatabaseWindow.close_connections()
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
