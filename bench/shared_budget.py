"""What the shared per-host request budget (``etfs/providers/sharedlimit.py``) costs, and whether
it holds with two syncs at once.

1. Overhead: starts per second through each budget (a take and its confirmation), alone (one
   thread, a budget so large that nobody waits): the in-process ``RateLimiter`` every process
   has anyway, then the machine's file budget, the PostgreSQL budget (one function call per start, on a throw-away local
   cluster) and the Redis budget (a Lua script on a throw-away local ``redis-server``).
2. Two syncs at once (``manage.py sync_etfs`` and ``sync_stocks`` in child processes) against
   the simulator, which answers 429 above ``--host-rps`` in any second; each sync is set to
   ``--rate``. For each sharing mode: the busiest one-second window the host saw (its own
   arrival times), its 429s, requests and wall time. ``off`` is the control.
3. Where the time goes between a start and the host's count (``--lag-requests`` requests from 8
   threads of this process through ``HostClient`` and the file budget at ``--rate``, all times
   on ``CLOCK_MONOTONIC``, the simulator's arrival stamp included): when the request was handed
   to ``requests`` (where the old budget had recorded its start), when it took its entry (right
   before the write), when the write was confirmed, and when the host stamped it. Run it with
   other work on the machine (the CPU burners of ``--burn``) to see the load's share.

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
        takes[name] = lambda w=window: w.sent(w.take(cap, window_seconds)[1])
    for name, take in takes.items():
        print(json.dumps({"measure": "overhead", "budget": name, "starts": count, **starts_per_second(take, count)}))


def _quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)  # noqa: E731
    return {"p50_ms": pick(0.5), "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": round(values[-1] * 1000, 2)}


def lag(args, directory: Path) -> None:
    """Per request: handed to ``requests`` (the old budget's start), asked, taken, sent, arrival."""
    import threading

    from etfs.providers.base import RequestStats
    from etfs.providers.http import BudgetGate, ClientOptions, HostClient
    from etfs.providers.sharedlimit import FileWindow
    from etfs.simulator.market import SimConfig
    from etfs.simulator.server import run_simulator

    marks: dict[int, dict[str, float]] = {}
    local = threading.local()

    class Recording(FileWindow):
        def take(self, cap, window):
            marks[local.n].setdefault("asked", time.monotonic())
            wait, ticket = super().take(cap, window)
            if ticket is not None:
                marks[local.n]["taken"] = ticket.taken
            return wait, ticket

        def sent(self, ticket):
            super().sent(ticket)
            marks[local.n]["sent"] = time.monotonic()  # just after the file's own reading: an upper bound

    config = SimConfig(n_etfs=20, n_stocks=0, years=1, today=TODAY, seed=3, latency=0.03)
    with run_simulator(config) as sim:
        host = sim.base_url.removeprefix("http://")
        options = ClientOptions(rate_limit=args.rate, concurrency=8, max_attempts=1)
        client = HostClient(host, options, RequestStats())
        client.gate = BudgetGate(Recording(host, directory / "lag"), lambda: args.rate)
        (directory / "lag").mkdir()
        get = client.session.get

        def recorded_get(*args, **kwargs):  # where the old budget recorded the start: right before this
            marks[local.n]["paced"] = time.monotonic()
            return get(*args, **kwargs)

        client.session.get = recorded_get  # type: ignore[method-assign]
        numbers = iter(range(args.lag_requests))
        lock = threading.Lock()

        def worker() -> None:
            while True:
                with lock:
                    n = next(numbers, None)
                if n is None:
                    return
                local.n, marks[n] = n, {}
                client.get(sim.kline_url, {"secid": "1.510300", "klt": 101, "fqt": 0, "n": n}, parse=len)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for entry in sim.requests():
            marks[int(entry.query["n"])]["arrival"] = entry.time
        client.close()
    rows = list(marks.values())
    spans = {
        "handed_to_first_ask (urllib3, connect)": [m["asked"] - m["paced"] for m in rows],
        "taken_to_sent (an entry's hold)": [m["sent"] - m["taken"] for m in rows],
        # The old budget recorded the start before requests and then waited for nothing more:
        # its start-to-arrival was this code's path without the wait for an entry.
        "old start to arrival": [(m["asked"] - m["paced"]) + (m["arrival"] - m["taken"]) for m in rows],
        "taken_to_arrival": [m["arrival"] - m["taken"] for m in rows],
        "sent_to_arrival (network + host stamping)": [m["arrival"] - m["sent"] for m in rows],
    }
    for name, values in spans.items():
        print(json.dumps({"measure": "lag", "span": name, "requests": len(values), **_quantiles(values)}), flush=True)
    print(
        json.dumps(
            {
                "measure": "lag",
                "busiest_second_host": busiest_window([m["arrival"] for m in rows]),
                "busiest_second_sends": busiest_window([m["sent"] for m in rows]),
                "setting": args.rate,
            }
        ),
        flush=True,
    )


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
                **sim.table_urls(),
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
    parser.add_argument("--lag-requests", type=int, default=400)
    parser.add_argument("--only", default="overhead,lag,syncs", help="comma list: overhead, lag, syncs")
    parser.add_argument("--burn", type=int, default=0, help="CPU-bound processes to run beside the measurements")
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
            burners = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.burn)]
            try:
                only = set(args.only.split(","))
                if "overhead" in only:
                    overhead(args.starts, redis_url, directory)
                if "lag" in only:
                    lag(args, directory)
                if "syncs" in only:
                    two_syncs(args, url, redis_url, directory)
            finally:
                for burner in burners:
                    burner.kill()
                    burner.wait()
            from etfs.providers.sharedlimit import DatabaseWindow

            DatabaseWindow.close_connections()
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
