"""TimescaleDB next to PostgreSQL: backfill, bytes per bar, API latency at 5 M and 50 M bars, aggregates.

Run by ``bench/run.py`` (step ``timescale``, part of ``make bench``) or on its own::

    .venv/bin/python bench/timescale_bench.py [--quick] [--only backfill,5m,50m,layout] [--backends postgres,timescale]

For each backend, one throw-away cluster (``tools/dbservers.py``; TimescaleDB is the native
2.28.3 build with ``shared_preload_libraries=timescaledb``), the same settings:

1. **backfill**: ``manage.py sync_etfs`` of 1,000 listed ETFs × 10 years from the in-process
   simulator (as ``bench/run.py``; on TimescaleDB it ends with refreshing the aggregates).
2. **5m** and **50m**: synthetic A-share stocks in SQL (random-walk prices, 2 decimals,
   ``generate_series``) up to ~5 M and ~50 M bars; ``VACUUM ANALYZE``; on TimescaleDB the
   chunks are compressed (all of them — the policy's state a few months on) and the
   aggregates refreshed. Then bytes per bar (table + indexes; TimescaleDB before and after
   compression) and the API through gunicorn + wrk: the three queries of issue 5, plus on
   TimescaleDB the weekly query with ``BARS_FROM_AGGREGATES=0`` (computed from the days).
3. **layout** (TimescaleDB): the chunk interval and price column types, measured on one data
   set (1,000 instruments × 10 years, random walk): bytes per bar before/after compression,
   compression time, and in-database time of "one instrument, one year" and "one instrument,
   ten years weekly".

Prints JSON lines as it goes and writes ``bench/results/<stamp>-timescale[-quick].json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import LATENCY_S, PY, RPS_LIMIT, TODAY, Bench  # noqa: E402

from tools.dbservers import free_port, postgres_cluster, timescale_cluster, wait_for_port  # noqa: E402

CLUSTER_SETTINGS = {"shared_buffers": "1GB", "work_mem": "32MB", "maintenance_work_mem": "512MB"}
STOCKS_5M_FROM = dt.date(2016, 11, 21)  # ten years up to the simulator's today, as the ETFs
STOCKS_50M_FROM = dt.date(1988, 9, 1)  # ~38 years: 5,000 stocks then hold ~50 M bars


def log(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}, default=str), flush=True)


def load() -> float:
    return os.getloadavg()[0]


class Side:
    """One backend's cluster, with the SQL and HTTP helpers the steps need."""

    def __init__(self, backend: str, url: str, bench: Bench, args: argparse.Namespace) -> None:
        self.backend = backend
        self.url = url
        self.bench = bench
        self.args = args
        self.pg_url = url.replace("timescale://", "postgres://", 1)

    @property
    def is_timescale(self) -> bool:
        return self.backend == "timescale"

    def sql(self, query: str, params: tuple | None = None, *, autocommit: bool = False) -> list[tuple]:
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.pg_url)) as conn:
            conn.autocommit = autocommit
            with conn.cursor() as cur:
                cur.execute(query, params)
                rows = cur.fetchall() if cur.description else []
            if not autocommit:
                conn.commit()
            return rows

    def timed(self, query: str, *, autocommit: bool = False) -> float:
        started = time.perf_counter()
        self.sql(query, autocommit=autocommit)
        return time.perf_counter() - started

    def bars(self) -> int:
        return self.sql("SELECT count(*) FROM prices_dailybar")[0][0]

    # ---- storage ---------------------------------------------------------------------------------
    def storage(self) -> dict:
        bars = self.bars()
        if not self.is_timescale:
            total, indexes = self.sql(
                "SELECT pg_total_relation_size('prices_dailybar'), pg_indexes_size('prices_dailybar')"
            )[0]
            return {"bars": bars, "bytes": total, "index_bytes": indexes, "bytes_per_bar": total / bars}
        before = self.sql("SELECT hypertable_size('prices_dailybar')")[0][0]
        # As in production: the sync refreshes the aggregates right after writing; the policy
        # compresses chunks weeks later.
        refresh_s = self.timed(
            "CALL refresh_continuous_aggregate('prices_dailybar_weekly', NULL, NULL)", autocommit=True
        )
        refresh_m = self.timed(
            "CALL refresh_continuous_aggregate('prices_dailybar_monthly', NULL, NULL)", autocommit=True
        )
        seconds = self.timed(
            "SELECT count(compress_chunk(c, if_not_compressed => true)) FROM show_chunks('prices_dailybar') c"
        )
        after, chunks, compressed = self.sql(
            "SELECT hypertable_size('prices_dailybar'), total_chunks, number_compressed_chunks "
            "FROM hypertable_compression_stats('prices_dailybar')"
        )[0]
        detail = self.sql(
            "SELECT table_bytes, index_bytes, toast_bytes FROM hypertable_detailed_size('prices_dailybar')"
        )[0]
        aggregates = dict(
            self.sql(
                "SELECT view_name, hypertable_size(format('%I.%I', materialization_hypertable_schema, "
                "materialization_hypertable_name)::regclass) FROM timescaledb_information.continuous_aggregates"
            )
        )
        return {
            "bars": bars,
            "bytes_uncompressed": before,
            "bytes_per_bar_uncompressed": before / bars,
            "bytes_compressed": after,
            "bytes_per_bar_compressed": after / bars,
            "compressed_detail": dict(zip(("table", "index", "toast"), detail, strict=True)),
            "chunks": chunks,
            "compressed_chunks": compressed,
            "compress_s": seconds,
            "refresh_weekly_s": refresh_s,
            "refresh_monthly_s": refresh_m,
            "aggregate_bytes": aggregates,
        }

    # ---- synthetic stocks -------------------------------------------------------------------------
    def add_stocks(self, first: int, count: int, start: dt.date, end: dt.date, batch: int = 250) -> float:
        """Stocks ``first`` .. ``first+count-1`` (codes 600000+n) with random-walk bars on weekdays in [start, end]."""
        started = time.perf_counter()
        self.sql(
            f"""
            INSERT INTO etfs_instrument (symbol, code, exchange, name, is_etf, asset_type, is_active,
                price_decimals, provider_fields, locked_fields, created_at, updated_at)
            SELECT lpad((600000 + g)::text, 6, '0') || '.SH', lpad((600000 + g)::text, 6, '0'), 'SH',
                   'BENCH' || g, false, 'stock', true, 2, '{{}}', '[]', now(), now()
            FROM generate_series({first}, {first + count - 1}) g ON CONFLICT DO NOTHING
            """
        )
        for lo in range(first, first + count, batch):
            hi = min(lo + batch, first + count) - 1
            self.sql(
                f"""
                INSERT INTO prices_dailybar (instrument_id, time, open, high, low, close, volume, amount)
                SELECT id, (day::timestamp AT TIME ZONE 'Asia/Shanghai'),
                       round((c * (1 + r1 * 0.01))::numeric, 2), round((c * (1.002 + abs(r2) * 0.02))::numeric, 2),
                       round((c * (0.998 - abs(r1) * 0.02))::numeric, 2), round(c::numeric, 2),
                       v * 100, round((v * 100 * c)::numeric, 2)
                FROM (
                    SELECT id, day, r1, r2, v,
                           (3 + (g % 47)) * exp(sum(step) OVER (PARTITION BY id ORDER BY day)) AS c
                    FROM (
                        SELECT i.id, i.g, d::date AS day, (random() - 0.5) * 0.04 AS step,
                               random() - 0.5 AS r1, random() - 0.5 AS r2, (1000 + random() * 200000)::bigint AS v
                        FROM (SELECT id, code::int - 600000 AS g FROM etfs_instrument
                              WHERE code::int - 600000 BETWEEN {lo} AND {hi} AND name LIKE 'BENCH%%') i,
                             generate_series('{start}'::date, '{end}'::date, '1 day') d
                        WHERE extract(isodow FROM d) < 6
                    ) raw
                ) walk
                """.replace("%%", "%")
            )
        return time.perf_counter() - started

    def settle(self) -> float:
        """What autovacuum and (on TimescaleDB) the policies would have done by a quiet day."""
        return self.timed("VACUUM (ANALYZE) prices_dailybar", autocommit=True)

    # ---- API ------------------------------------------------------------------------------------
    def api(self, label: str) -> dict:
        symbol = self.sql("SELECT symbol FROM etfs_instrument WHERE is_etf ORDER BY symbol LIMIT 1")[0][0]
        queries = {
            "one ETF, one year daily": f"/api/instruments/{symbol}/bars/?start=2025-11-20&end=2026-11-20",
            "one ETF, ten years weekly": f"/api/instruments/{symbol}/bars/?start=2016-11-20&end=2026-11-20"
            "&interval=1w&page_size=1000",
            "latest bar, all ETFs": "/api/bars/latest/?is_etf=true&page_size=2000",
        }
        table = self._wrk(queries, {})
        if self.is_timescale:
            weekly = {"one ETF, ten years weekly, from the days": queries["one ETF, ten years weekly"]}
            table.update(self._wrk(weekly, {"BARS_FROM_AGGREGATES": "0"}))
        log("api", backend=self.backend, label=label, queries=table, load=load())
        return table

    def _wrk(self, queries: dict[str, str], extra_env: dict[str, str]) -> dict:
        port = free_port()
        env = self.bench.env(
            DEBUG="0",
            SECRET_KEY="bench-" + "x" * 50,
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            **extra_env,
        )
        server = subprocess.Popen(
            [str(Path(PY).parent / "gunicorn"), "etfproject.wsgi", "-b", f"127.0.0.1:{port}", "-w", "4", "--preload"]
            + ["--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )
        table = {}
        try:
            wait_for_port(port, 60, server)
            import requests

            for path in queries.values():  # warm every worker and the server's cache; not measured
                for _ in range(8):
                    requests.get(f"http://127.0.0.1:{port}{path}", timeout=120).raise_for_status()
            for name, path in queries.items():
                for conc in (1, 8):
                    out = subprocess.run(
                        ["wrk", "-t", str(min(conc, 2)), "-c", str(conc), "-d", f"{self.args.wrk_seconds}s"]
                        + ["-s", str(ROOT / "bench" / "wrk_report.lua"), f"http://127.0.0.1:{port}{path}"],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    table[f"{name} @c{conc}"] = json.loads(out.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(timeout=10)
        return table


# ---- layout: chunk interval and column types (TimescaleDB) ------------------------------------------
LAYOUTS = {
    # name: (price column type, chunk interval, price expression from the numeric source)
    "numeric(14,3), 365-day chunks (ours)": ("numeric(14,3)", "365 days", "{c}"),
    "numeric(14,3), 90-day chunks": ("numeric(14,3)", "90 days", "{c}"),
    "numeric(14,3), 4-year chunks": ("numeric(14,3)", "1460 days", "{c}"),
    "double precision, 365-day chunks": ("double precision", "365 days", "{c}::double precision"),
    "bigint thousandths, 365-day chunks": ("bigint", "365 days", "({c} * 1000)::bigint"),
}


def bench_layout(side: Side, instruments: int, years: int) -> dict:
    side.sql(
        f"""
        DROP TABLE IF EXISTS layout_src;
        CREATE TABLE layout_src AS
        SELECT i AS instrument_id, (day::timestamp AT TIME ZONE 'Asia/Shanghai') AS time,
               round((c * (1 + r1 * 0.01))::numeric, 3) AS open,
               round((c * (1.002 + abs(r2) * 0.02))::numeric, 3) AS high,
               round((c * (0.998 - abs(r1) * 0.02))::numeric, 3) AS low, round(c::numeric, 3) AS close,
               v * 100 AS volume, round((v * 100 * c)::numeric, 2) AS amount
        FROM (
            SELECT i, day, r1, r2, v, (0.5 + (i % 40) / 10.0) * exp(sum(step) OVER (PARTITION BY i ORDER BY day)) AS c
            FROM (SELECT i, d::date AS day, (random() - 0.5) * 0.03 AS step, random() - 0.5 AS r1,
                         random() - 0.5 AS r2, (1000 + random() * 200000)::bigint AS v
                  FROM generate_series(1, {instruments}) i,
                       generate_series('{TODAY.year - years}-11-21'::date, '{TODAY}'::date, '1 day') d
                  WHERE extract(isodow FROM d) < 6) raw
        ) walk
        """
    )
    rows = side.sql("SELECT count(*) FROM layout_src")[0][0]
    out = {"rows": rows, "instruments": instruments, "years": years, "layouts": {}}
    for name, (price_type, interval, expr) in LAYOUTS.items():
        side.sql(
            f"""
            DROP TABLE IF EXISTS layout_t;
            CREATE TABLE layout_t (instrument_id bigint NOT NULL, time timestamptz NOT NULL,
                open {price_type} NOT NULL, high {price_type} NOT NULL, low {price_type} NOT NULL,
                close {price_type} NOT NULL, volume bigint NOT NULL, amount numeric(20,2),
                UNIQUE (instrument_id, time));
            CREATE INDEX ON layout_t (time);
            SELECT create_hypertable('layout_t', 'time', chunk_time_interval => INTERVAL '{interval}',
                                     create_default_indexes => false);
            """
        )
        cols = ", ".join(expr.format(c=c) for c in ("open", "high", "low", "close"))
        load_s = side.timed(
            f"INSERT INTO layout_t SELECT instrument_id, time, {cols}, volume, amount FROM layout_src ORDER BY time"
        )
        side.sql("VACUUM ANALYZE layout_t", autocommit=True)
        before = side.sql("SELECT hypertable_size('layout_t')")[0][0]
        side.sql(
            "ALTER TABLE layout_t SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id', "
            "timescaledb.compress_orderby = 'time DESC')"
        )
        compress_s = side.timed("SELECT count(compress_chunk(c)) FROM show_chunks('layout_t') c")
        after, chunks = side.sql("SELECT hypertable_size('layout_t'), (SELECT count(*) FROM show_chunks('layout_t'))")[
            0
        ]
        one_year, weekly = [], []
        for k in range(25):
            iid = 1 + (k * 37) % instruments
            one_year.append(
                _in_db_ms(
                    side,
                    f"SELECT * FROM layout_t WHERE instrument_id = {iid} "
                    f"AND time >= '{TODAY.year - 1}-11-20' AND time < '{TODAY}' ORDER BY time",
                )
            )
            weekly.append(
                _in_db_ms(
                    side,
                    "SELECT time_bucket('1 week', time, 'Asia/Shanghai') b, first(open, time), max(high), min(low), "
                    f"last(close, time), sum(volume) FROM layout_t WHERE instrument_id = {iid} GROUP BY 1 ORDER BY 1",
                )
            )
        result = {
            "chunks": chunks,
            "load_s": load_s,
            "bytes_per_bar_uncompressed": before / rows,
            "bytes_per_bar_compressed": after / rows,
            "compress_s": compress_s,
            "one_year_daily_ms_median": statistics.median(one_year),
            "ten_years_weekly_ms_median": statistics.median(weekly),
        }
        out["layouts"][name] = result
        log("layout", name=name, load=load(), **result)
    side.sql("DROP TABLE IF EXISTS layout_t; DROP TABLE IF EXISTS layout_src")
    return out


def _in_db_ms(side: Side, query: str) -> float:
    """Execution time the server reports (EXPLAIN ANALYZE without per-node timing)."""
    plan = side.sql(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {query}")[0][0]
    return plan[0]["Execution Time"]


def run_backend(backend: str, args: argparse.Namespace, sim, steps: list[str]) -> dict:
    cluster = timescale_cluster if backend == "timescale" else postgres_cluster
    results: dict = {}
    with cluster(CLUSTER_SETTINGS) as url:
        bench = Bench(args, url, sim)
        bench.manage("migrate", "--no-input", "-v0")
        bench.manage("collectstatic", "--no-input", "-v0")
        side = Side(backend, url, bench, args)
        if "backfill" in steps or "5m" in steps or "50m" in steps:
            sim.set_today(TODAY)
            seconds, _out, peak = bench.manage("sync_etfs", "--workers", str(args.workers), env=bench.sim_env())
            run = bench.last_run()
            results["backfill"] = {
                "wall_s": seconds,
                "etfs": side.sql("SELECT count(*) FROM etfs_instrument")[0][0],
                "bars": side.bars(),
                "peak_rss_mb": peak,
                "requests": run["requests"],
                "retries": run["retries"],
                "status": run["status"],
                "load": load(),
            }
            log("backfill", backend=backend, **results["backfill"])
        stocks_5m = max(0, -(-(args.bars_5m - side.bars()) // 2435))
        if "5m" in steps:
            seed_s = side.add_stocks(1, stocks_5m, STOCKS_5M_FROM, TODAY)
            settle_s = side.settle()
            storage = side.storage()
            results["5m"] = {"stocks": stocks_5m, "seed_s": seed_s, "vacuum_analyze_s": settle_s, "storage": storage}
            log("storage", backend=backend, label="5m", seed_s=seed_s, vacuum_s=settle_s, **storage)
            results["5m"]["api"] = side.api("5m")
        if "50m" in steps:
            started = time.perf_counter()
            if side.is_timescale:  # load into row storage, then measure compressing all of it
                side.sql(
                    "SELECT count(decompress_chunk(c, if_compressed => true)) FROM show_chunks('prices_dailybar') c"
                )
            if stocks_5m and "5m" in steps:  # the 5 M stocks get their earlier years, the rest all of them
                side.add_stocks(1, stocks_5m, STOCKS_50M_FROM, STOCKS_5M_FROM - dt.timedelta(days=1))
            else:
                stocks_5m = 0
            side.add_stocks(stocks_5m + 1, args.stocks_50m - stocks_5m, STOCKS_50M_FROM, TODAY)
            seed_s = time.perf_counter() - started
            settle_s = side.settle()
            storage = side.storage()
            results["50m"] = {
                "stocks": args.stocks_50m,
                "seed_s": seed_s,
                "vacuum_analyze_s": settle_s,
                "storage": storage,
            }
            log("storage", backend=backend, label="50m", seed_s=seed_s, vacuum_s=settle_s, **storage)
            results["50m"]["api"] = side.api("50m")
        if "layout" in steps and backend == "timescale":
            side.sql("CREATE DATABASE layout", autocommit=True)
            layout_side = Side(backend, url.rsplit("/", 1)[0] + "/layout", bench, args)
            layout_side.sql("CREATE EXTENSION IF NOT EXISTS timescaledb")
            results["layout"] = bench_layout(layout_side, args.layout_instruments, 10)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default="backfill,5m,50m,layout")
    parser.add_argument("--backends", default="postgres,timescale")
    args = parser.parse_args()
    args.etfs = 125 if args.quick else 1250
    args.years = 3 if args.quick else 10
    args.workers = 8
    args.repeat = 1
    args.bars_5m = 300_000 if args.quick else 5_000_000
    args.stocks_50m = 300 if args.quick else 5_000
    args.layout_instruments = 100 if args.quick else 1_000
    args.wrk_seconds = 3 if args.quick else 10
    steps = args.only.split(",")
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk; make bench-install does it)")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
    import django

    django.setup()
    from etfs.simulator.formats import render_kline
    from etfs.simulator.market import SimConfig
    from etfs.simulator.server import run_simulator

    config = SimConfig(
        n_etfs=args.etfs, n_stocks=0, years=args.years, today=TODAY, seed=1, latency=LATENCY_S, rps_limit=RPS_LIMIT
    )
    started = time.perf_counter()
    results: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": {"cpus": os.cpu_count(), "load_at_start": load()},
        "settings": CLUSTER_SETTINGS,
    }
    with run_simulator(config) as sim:
        for inst in sim.market.instruments():
            render_kline(sim.market, {"secid": inst.symbol.secid, "fqt": "0"})
        gc.freeze()
        for backend in args.backends.split(","):
            results[backend] = run_backend(backend, args, sim, steps)
    results["total_s"] = time.perf_counter() - started
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-quick" if args.quick else ""
    for name in (f"{stamp}-timescale{suffix}.json", f"latest-timescale{suffix}.json"):
        (out_dir / name).write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    log("done", total_s=results["total_s"], file=f"bench/results/{stamp}-timescale{suffix}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
