"""API throughput under load: gunicorn ``-w 5 --threads 2``, wrk with 32 clients, ~0.9 M bars.

The setup of issue 16's measurement: a throw-away PostgreSQL 15 cluster, 370 ETFs with
2,430 daily bars each (~10 years, 898,... bars) and two corporate actions each (so qfq has
work to do), gunicorn with 5 workers of 2 threads (``--preload``), and ``wrk -t2 -c32``
against each query for ``--seconds``. Each wrk request picks the next of 50 instruments,
so PostgreSQL's cache and the plans see many instruments, not one.

``--baseline DIR`` also serves another checkout of the project (same venv, same database:
this checkout's schema is a superset) and alternates the two, query by query and round by
round — how "before" and "after" are measured on a machine shared with other work: e.g.
``git archive <base> | tar -x -C /tmp/base && .venv/bin/python bench/api_load.py --baseline /tmp/base --rounds 2``.
Prints one JSON object per query, server and round (p50/p95/p99 ms, requests/s) and writes
them all to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.dbservers import free_port, postgres_cluster, wait_for_port  # noqa: E402

PY = sys.executable
INSTRUMENTS = 370
BARS_EACH = 2430
ROTATE = 50  # instruments wrk cycles through

OHLCV = "date,open,high,low,close,volume,amount"
QUERIES = {
    "1,000-bar JSON page": "/api/instruments/{symbol}/bars/?page_size=1000",
    "full-history qfq CSV": "/api/instruments/{symbol}/bars/?format=csv&adjust=qfq",
    "cross-section, one date, all ETFs (JSON)": "/api/bars/?date=2021-06-01&page_size=1000",
    "10 symbols, full history qfq CSV": "/api/bars/?symbols={symbols10}&format=csv&adjust=qfq",
    "full-history qfq Parquet": "/api/instruments/{symbol}/bars/?format=parquet&adjust=qfq",
    # Like for like with the API before issue 16, whose bars had these 7 columns (it ignores fields=):
    "1,000-bar JSON page, 7 columns": "/api/instruments/{symbol}/bars/?page_size=1000&fields=" + OHLCV,
    "full-history qfq CSV, 7 columns": "/api/instruments/{symbol}/bars/?format=csv&adjust=qfq&fields=" + OHLCV,
}

WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format(
    '{"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "requests": %d, "seconds": %.3f, "errors": %d, "non2xx": %d}\\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""

SEED_SQL = """
INSERT INTO etfs_instrument (symbol, code, exchange, name, is_etf, asset_type, is_active,
    price_decimals, provider_fields, locked_fields, created_at, updated_at)
SELECT (510000 + g)::text || '.SH', (510000 + g)::text, 'SH', '基准ETF' || g, true, 'etf', true, 3, '{{}}', '[]',
       now(), now()
FROM generate_series(1, {n}) g;
INSERT INTO prices_dailybar (instrument_id, time, open, high, low, close, volume, amount)
SELECT i.id, d, p, p + 0.05, p - 0.05, p + 0.01, 100000 + k, 1010000.50 + k
FROM etfs_instrument i
CROSS JOIN LATERAL (
    SELECT (date '2016-12-01' + k)::timestamp AT TIME ZONE 'Asia/Shanghai' AS d, k,
           round((2 + i.id % 7 + sin(k / 40.0))::numeric, 3) AS p
    FROM generate_series(0, 3650) k
    WHERE extract(isodow FROM date '2016-12-01' + k) < 6
    LIMIT {per}
) days;
INSERT INTO prices_corporateaction (instrument_id, ex_date, cash, split_ratio, source, created_at, updated_at)
SELECT i.id, date '2019-06-03', 0.05, 1, 'derived', now(), now() FROM etfs_instrument i;
INSERT INTO prices_corporateaction (instrument_id, ex_date, cash, split_ratio, source, created_at, updated_at)
SELECT i.id, date '2023-03-01', 0, 2, 'derived', now(), now() FROM etfs_instrument i;
VACUUM ANALYZE;
"""


def sql(url: str, query: str) -> list[tuple]:
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in [s for s in query.split(";\n") if s.strip()]:
                cur.execute(statement)
            return cur.fetchall() if cur.description else []


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of ``root`` and all its descendants, living or reaped.

    Under a machine shared with other work, CPU per request is the steady measure: latency
    and requests/s move with everyone else's load, the work one request costs does not.
    """
    tree, total, stack = _children(), 0.0, [root]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
        stack.extend(tree.get(pid, []))
    return total


def postmaster_pid(url: str) -> int:
    backend = sql(url, "SELECT pg_backend_pid()")[0][0]
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def start_server(code: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "etfproject.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "5",
            "--threads",
            "2",
            "--preload",
            "--log-level",
            "warning",
        ],
        cwd=code,
        env=env,
    )
    wait_for_port(port, 60, server)
    return server, port


def run_wrk(
    port: int, paths: list[str], script: Path, tmp: str, clients: int, seconds: int, pids: tuple[int, int]
) -> dict:
    cpu_before = [cpu_seconds(pid) for pid in pids]
    paths_file = Path(tmp) / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BENCH_PATHS": str(paths_file)},
    ).stdout
    cpu_after = [cpu_seconds(pid) for pid in pids]
    row = json.loads(out.strip().splitlines()[-1])
    row["requests_per_s"] = row["requests"] / row["seconds"]
    row["app_cpu_ms_per_request"] = (cpu_after[0] - cpu_before[0]) * 1000 / max(row["requests"], 1)
    row["db_cpu_ms_per_request"] = (cpu_after[1] - cpu_before[1]) * 1000 / max(row["requests"], 1)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, help="also serve this checkout and alternate with it, round by round")
    parser.add_argument("--rounds", type=int, default=1, help="measurements per query and server (alternating)")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--only", default="", help="comma list of query numbers (1-based) to run")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    wanted = {int(n) for n in args.only.split(",") if n}
    servers_code = {"after": ROOT}
    if args.baseline:
        servers_code = {"before": args.baseline.resolve(), "after": ROOT}
    results: dict[str, dict[str, list[dict]]] = {}
    with postgres_cluster({"shared_buffers": "512MB", "work_mem": "32MB"}) as url, tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
        }
        # This checkout's schema is a superset of an older one's: one database serves both.
        subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
        for code in servers_code.values():
            subprocess.run([PY, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=code, env=env, check=True)
        sql(url, SEED_SQL.format(n=INSTRUMENTS, per=BARS_EACH))
        bars = sql(url, "SELECT count(*) FROM prices_dailybar")[0][0]
        symbols = [row[0] for row in sql(url, f"SELECT symbol FROM etfs_instrument ORDER BY id LIMIT {ROTATE + 10}")]
        servers = {label: start_server(code, env) for label, code in servers_code.items()}
        postmaster = postmaster_pid(url)
        script = Path(tmp) / "rotate.lua"
        script.write_text(WRK_SCRIPT)
        try:
            import requests

            for number, (name, template) in enumerate(QUERIES.items(), 1):
                if wanted and number not in wanted:
                    continue
                paths = [
                    template.format(symbol=s, symbols10=",".join(symbols[k : k + 10]))
                    for k, s in enumerate(symbols[:ROTATE])
                ]
                live = {}
                for label, (_server, port) in servers.items():
                    probe = requests.get(f"http://127.0.0.1:{port}{paths[0]}", timeout=120)
                    if probe.status_code != 200:
                        print(name, label, "answers", probe.status_code, flush=True)
                        continue
                    for path in paths[:10]:  # warm every worker and PostgreSQL's cache; not measured
                        requests.get(f"http://127.0.0.1:{port}{path}", timeout=120)
                    live[label] = (port, len(probe.content), servers[label][0].pid)
                for _round in range(args.rounds):
                    for label, (port, size, pid) in live.items():
                        row = run_wrk(port, paths, script, tmp, args.clients, args.seconds, (pid, postmaster))
                        row["response_bytes"] = size
                        results.setdefault(name, {}).setdefault(label, []).append(row)
                        print(name, label, json.dumps(row), flush=True)
        finally:
            for server, _port in servers.values():
                server.terminate()
                server.wait(timeout=20)
    report = {
        "servers": {label: str(code) for label, code in servers_code.items()},
        "bars": bars,
        "clients": args.clients,
        "seconds": args.seconds,
        "queries": results,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
