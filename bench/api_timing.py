"""CPU per bars request, in-process: a quick before/after of the API's bar paths without wrk.

``bench/api_load.py`` measures throughput under load (gunicorn, 32 clients), which moves with
everything else a shared machine runs. This one answers a narrower question steadily: how much
CPU does one request of each bar query cost the application process? One throw-away PostgreSQL
15 cluster seeded as ``api_load.py`` seeds it (smaller by default), then for each checkout
(``--baseline DIR`` and this one, alternating round by round) a child process that serves the
queries through Django's test client, ``--repeat`` times each after a warm-up, and prints the
median CPU (``time.process_time``) and wall milliseconds per request and the answer's size.
The database's own CPU is not counted (it is ``api_load.py``'s ``db_cpu_ms_per_request``).

``git archive <base> | tar -x -C /tmp/base && .venv/bin/python bench/api_timing.py --baseline /tmp/base``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import OHLCV, SEED_SQL, sql  # noqa: E402
from tools.dbservers import postgres_cluster  # noqa: E402

QUERIES = {
    "1,000-bar JSON page (raw)": "/api/instruments/{symbol}/bars/?page_size=1000",
    "1,000-bar JSON page (qfq)": "/api/instruments/{symbol}/bars/?page_size=1000&adjust=qfq",
    "full-history qfq CSV": "/api/instruments/{symbol}/bars/?format=csv&adjust=qfq",
    "full-history qfq Parquet": "/api/instruments/{symbol}/bars/?format=parquet&adjust=qfq",
    "10 symbols, full history qfq CSV": "/api/bars/?symbols={symbols10}&format=csv&adjust=qfq",
    "10 symbols, 1,000 bars qfq JSON": "/api/bars/?symbols={symbols10}&adjust=qfq&page_size=1000",
    "1,000-bar JSON page, 7 columns": "/api/instruments/{symbol}/bars/?page_size=1000&fields=" + OHLCV,
}


def serve(code: Path, repeat: int, symbols: list[str]) -> dict[str, dict[str, float]]:
    """In a child process: each query ``repeat`` times through the test client of ``code``."""
    sys.path.insert(0, str(code))
    os.chdir(code)
    import django

    django.setup()
    from django.test import Client

    client = Client()
    results = {}
    for name, template in QUERIES.items():
        paths = [template.format(symbol=s, symbols10=",".join(symbols[k : k + 10])) for k, s in enumerate(symbols[:10])]
        for path in paths[:3]:  # warm-up: imports, plans, caches
            answer = client.get(path)
            if answer.status_code != 200:
                raise SystemExit(f"{path} answered {answer.status_code}")
        cpu, wall = [], []
        size = 0
        for k in range(repeat):
            path = paths[k % len(paths)]
            started_cpu, started = time.process_time(), time.perf_counter()
            answer = client.get(path)
            size = len(b"".join(answer.streaming_content) if answer.streaming else answer.content)
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
        results[name] = {"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall), "bytes": size}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, help="another checkout to time, alternating with this one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=30, help="requests per query, server and round")
    parser.add_argument("--instruments", type=int, default=40)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the child's checkout
    args = parser.parse_args()
    if args.serve:
        symbols = json.loads(os.environ["BENCH_SYMBOLS"])
        print(json.dumps(serve(args.serve, args.repeat, symbols)))
        return 0
    codes = {"after": ROOT} if args.baseline is None else {"before": args.baseline.resolve(), "after": ROOT}
    with postgres_cluster({"shared_buffers": "256MB", "work_mem": "32MB"}) as url:
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "DEBUG": "0", "SECURE_SSL_REDIRECT": "0"}
        env["SECRET_KEY"] = "bench-" + "x" * 50
        env["DJANGO_SETTINGS_MODULE"] = "etfproject.settings"
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        sql(url, SEED_SQL.format(n=args.instruments, per=2430))
        symbols = [row[0] for row in sql(url, "SELECT symbol FROM etfs_instrument ORDER BY id LIMIT 20")]
        env["BENCH_SYMBOLS"] = json.dumps(symbols)
        runs: dict[str, dict[str, list[dict[str, float]]]] = {}
        for _round in range(args.rounds):
            for label, code in codes.items():
                child = [sys.executable, __file__, "--serve", str(code), "--repeat", str(args.repeat)]
                out = subprocess.run(child, env=env, check=True, capture_output=True, text=True).stdout
                for name, row in json.loads(out.strip().splitlines()[-1]).items():
                    runs.setdefault(name, {}).setdefault(label, []).append(row)
    for name, by_label in runs.items():
        for label, rows in by_label.items():
            cpu = statistics.median(r["cpu_ms"] for r in rows)
            wall = statistics.median(r["wall_ms"] for r in rows)
            print(f"{name:36s} {label:6s} cpu {cpu:7.2f} ms  wall {wall:7.2f} ms  {int(rows[-1]['bytes']):>9,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
