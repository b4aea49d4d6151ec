"""`make bench`: measure etfsync side by side with what users do today, and record it.

Everything runs on this machine: a throw-away PostgreSQL 15 cluster, our market-data
simulator in its own process (30 ms latency, 50 requests/s limit), the sync commands in
their own processes, AKShare + pandas ``to_sql`` as the baseline, raw ``COPY`` as the
physical ingest limit, and gunicorn + wrk for API latency. Prints one table and writes
``bench/results/<timestamp>.json`` (and ``latest.json``).
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
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.dbservers import free_port, postgres_cluster, wait_for_port  # noqa: E402

PY = sys.executable
TODAY = dt.date(2026, 11, 20)  # a Friday, a trading day; the simulator's "today"
NEXT_DAY = dt.date(2026, 11, 23)
LATENCY_S = 0.030  # the simulated host's answer time
# Ex-days on the daily update's day, so it shows what they cost: 8 distributions, a 1:2 split
# and an odd share conversion, on ETFs that trade that day (none suspended, delisted or late).
NEXT_DAY_CASH = ("510300", "159919", "159915", "159928", "588000", "513100", "510050", "159949")
NEXT_DAY_SPLITS = (("159995", "2"), ("159920", "1.110680861"))


def next_day_actions() -> tuple:
    from decimal import Decimal

    from etfs.simulator.market import ScheduledAction

    cash = (ScheduledAction(code, NEXT_DAY, cash_share=Decimal("0.01")) for code in NEXT_DAY_CASH)
    splits = (ScheduledAction(code, NEXT_DAY, split_ratio=Decimal(ratio)) for code, ratio in NEXT_DAY_SPLITS)
    return (*cash, *splits)


RPS_LIMIT = 50  # the simulated host answers 429 above this
FUND_SPLITS_PATH = "/Data/funddataIndex_Interface.aspx"  # the fund split table (dt=9)
STOCK_BONUS_PATH = "/api/data/v1/get"  # the stock distribution table (RPT_SHAREBONUS_DET)


# Runs the measured command from a small process: a child forked straight from this one
# (which holds the simulator's data) would inherit its peak RSS, which Linux keeps across exec.
TRAMPOLINE = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, s, u = os.wait4(p.pid, 0); "
    "open(os.environ['BENCH_RSS_FILE'], 'w').write(str(u.ru_maxrss)); sys.exit(os.waitstatus_to_exitcode(s))"
)


def run_measured(cmd: list[str], env: dict[str, str], *, check: bool = True) -> tuple[float, str, float]:
    """Run ``cmd``; return (seconds, output, its own peak RSS in MB)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.NamedTemporaryFile("r") as rss:
        started = time.perf_counter()
        proc = subprocess.run(
            [PY, "-c", TRAMPOLINE, *cmd],
            cwd=ROOT,
            env={**env, "BENCH_RSS_FILE": rss.name},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
        peak_kb = int(rss.read() or 0)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed ({proc.returncode}):\n{output[-3000:]}")
    return seconds, output, peak_kb / 1024


class Bench:
    def __init__(self, args: argparse.Namespace, database_url: str, sim) -> None:
        self.args = args
        self.database_url = database_url
        self.sim = sim
        self.results: dict[str, dict] = {}

    # ---- helpers -------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        # FUNDDATA_SYNC=0: these figures are the price path's; bench/funds.py times the fund phase.
        env.update({"DATABASE_URL": self.database_url, "LOG_LEVEL": "WARNING", "FUNDDATA_SYNC": "0"})
        env.update(extra)
        return env

    def manage(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> tuple[float, str, float]:
        """Run a manage.py command; return (seconds, output, peak RSS in MB of that process)."""
        return run_measured([PY, "manage.py", *args], env or self.env(), check=check)

    def sql(self, query: str) -> list[tuple]:
        import psycopg2

        dsn = self.database_url.replace("timescale://", "postgres://", 1)  # libpq knows postgres:// only
        with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
            cur.execute(query)
            conn.commit()
            return cur.fetchall() if cur.description else []

    def reset_data(self) -> None:
        self.sql(
            "TRUNCATE prices_dailybar, prices_corporateaction, prices_announcedsplit, prices_announcedyear, "
            "etfs_syncrun, etfs_instrument RESTART IDENTITY CASCADE"
        )

    def sim_env(self) -> dict[str, str]:
        """Point the sync at the in-process simulator, configured with the host's published
        limit (the client's limiter keeps its own 5 % headroom below it)."""
        return self.env(
            EASTMONEY_LIST_URL=self.sim.list_url,
            EASTMONEY_KLINE_URL=self.sim.kline_url,
            TENCENT_KLINE_URL=self.sim.tencent_url,
            EASTMONEY_FUND_SPLITS_URL=f"{self.sim.base_url}{FUND_SPLITS_PATH}",
            EASTMONEY_STOCK_BONUS_URL=f"{self.sim.base_url}{STOCK_BONUS_PATH}",
            MARKETDATA_RATE_LIMIT=str(RPS_LIMIT),
            MARKETDATA_CONCURRENCY=str(self.args.workers),
        )

    def last_run(self) -> dict:
        cols = ("requests", "retries", "failures", "bars_inserted", "bars_updated", "bars_unchanged", "status")
        rows = self.sql(f"SELECT {', '.join(cols)} FROM etfs_syncrun ORDER BY id DESC LIMIT 1")
        return dict(zip(cols, rows[0], strict=True))

    # ---- 1 and 2: backfill, ours versus AKShare + to_sql -----------------------------------
    def bench_backfill(self) -> None:
        walls, peaks, run = [], [], {}
        for _ in range(self.args.repeat):
            self.reset_data()
            tables_before = len(self.sim.requests(FUND_SPLITS_PATH))
            seconds, _out, peak = self.manage("sync_etfs", "--workers", str(self.args.workers), env=self.sim_env())
            table_requests = len(self.sim.requests(FUND_SPLITS_PATH)) - tables_before
            walls.append(seconds)
            peaks.append(peak)
            run = self.last_run()
        wall = statistics.median(walls)
        instruments = self.sql("SELECT count(*) FROM etfs_instrument")[0][0]
        bars = self.sql("SELECT count(*) FROM prices_dailybar")[0][0]
        list_pages = -(-instruments // 100)
        self.results["backfill"] = {
            "etfs": instruments,
            "bars": bars,
            "wall_s": wall,
            "runs_s": walls,
            "etfs_per_s": instruments / wall,
            "bars_per_s": bars / wall,
            "requests": run.get("requests"),
            # raw history + the qfq series (the evidence of ex-days) per ETF, and the list pages
            # (the split table's pages come on top: ``table_requests``)
            "min_requests": 2 * instruments + list_pages,
            "retries": run.get("retries"),
            "peak_rss_mb": max(peaks),
            "status": run.get("status"),
        }
        self.results["backfill"]["table_requests"] = table_requests  # split-table pages, part of ``requests``
        self.results["backfill"].update(self.adjustments_check())
        # Idempotence: a second run right away writes nothing.
        seconds, _out, _ = self.manage("sync_etfs", "--workers", str(self.args.workers), env=self.sim_env())
        second = self.last_run()
        self.results["backfill"]["rerun_s"] = seconds
        self.results["backfill"]["rerun_written"] = (second["bars_inserted"] or 0) + (second["bars_updated"] or 0)

    def adjustments_check(self) -> dict:
        """Our qfq and hfq against the simulator's on every day of every ETF: the stored actions
        applied to the host's raw series, compared with its adjusted ones (in-process, numpy)."""
        from decimal import Decimal

        from etfs.providers.base import PriceTicks
        from etfs.sync.steps import mismatched_days
        from prices.adjustments import Action

        stored: dict[str, list[Action]] = {}
        query = (
            "SELECT i.symbol, a.ex_date, a.cash, a.split_ratio FROM prices_corporateaction a "
            "JOIN etfs_instrument i ON i.id = a.instrument_id ORDER BY a.ex_date"
        )
        for symbol, day, cash, ratio in self.sql(query):
            stored.setdefault(symbol, []).append(Action(day, Decimal(cash), Decimal(ratio)))
        wrong = {"qfq": 0, "hfq": 0}
        wrong_etfs = {"qfq": 0, "hfq": 0}
        days = 0
        for inst in self.sim.market.listed():
            symbol = inst.symbol.canonical
            raw = PriceTicks.from_bars(self.sim.market.bars(symbol), inst.decimals)
            days += len(raw)
            for adjust in ("qfq", "hfq"):
                series = PriceTicks.from_bars(self.sim.market.bars(symbol, adjust), inst.decimals)
                count = len(mismatched_days(raw, series, stored.get(symbol, []), adjust))
                wrong[adjust] += count
                wrong_etfs[adjust] += bool(count)
        return {
            "days_checked": days,
            "qfq_wrong_days": wrong["qfq"],
            "hfq_wrong_days": wrong["hfq"],
            "qfq_wrong_etfs": wrong_etfs["qfq"],
            "hfq_wrong_etfs": wrong_etfs["hfq"],
        }

    def bench_akshare(self) -> None:
        codes = [r[0] for r in self.sql("SELECT code FROM etfs_instrument WHERE is_etf ORDER BY code")]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write("\n".join(codes))
            codes_file = fh.name
        walls, out = [], {}
        for _ in range(self.args.baseline_repeat):
            self.sql("DROP TABLE IF EXISTS akshare_bars")
            _seconds, output, peak = run_measured(
                [PY, "bench/akshare_baseline.py", self.sim.kline_url, self.database_url, codes_file], self.env()
            )
            out = json.loads(output.strip().splitlines()[-1])
            out["peak_mb"] = peak
            walls.append(out["seconds"])
        os.unlink(codes_file)
        wall = statistics.median(walls)
        ours = self.results["backfill"]
        rows = self.sql("SELECT count(*) FROM akshare_bars")[0][0]
        # Re-running the baseline appends everything again: duplicates, which ours never makes.
        vol_ours, vol_ak = self.sql(
            'SELECT (SELECT sum(volume) FROM prices_dailybar), (SELECT sum("成交量") FROM akshare_bars)'
        )[0]
        self.results["akshare"] = {
            "wall_s": wall,
            "runs_s": walls,
            "rows": rows,
            "requests": out["requests"],
            "peak_rss_mb": out["peak_mb"],
            "failures": out["failures"],
            "ratio_ours_faster": wall / ours["wall_s"],
            "volume_units": "lots (x100 short of shares)"
            if vol_ours and vol_ak and round(vol_ours / vol_ak) == 100
            else "?",
        }

    # ---- 3: daily update -----------------------------------------------------------------
    def bench_daily_update(self) -> None:
        # The same simulator moves to the next trading day (a restarted one would generate
        # another history, which the sync rightly treats as a provider revising everything).
        self.sim.set_today(NEXT_DAY)
        listed = self.sim.market.listed()
        ex_days = sum(any(a.ex_date == NEXT_DAY for a in inst.actions) for inst in listed)
        seconds, _out, _ = self.manage("sync_etfs", "--workers", str(self.args.workers), env=self.sim_env())
        run = self.last_run()
        self.results["daily_update"] = {
            "wall_s": seconds,
            "requests": run["requests"],
            "list_pages": -(-len(listed) // 100),
            "ex_days": ex_days,
            "bars_inserted": run["bars_inserted"],
            "history_path_min_s": self.results["backfill"]["etfs"] / 50,
        }

    # ---- 4: ingest ceiling -----------------------------------------------------------------
    def bench_ingest(self) -> None:
        dump = Path(tempfile.mkdtemp()) / "bars.copy"
        os.chmod(dump.parent, 0o777)
        rows = self.sql("SELECT count(*) FROM prices_dailybar")[0][0]
        import psycopg2

        cols = "instrument_id, time, open, high, low, close, volume, amount"
        with contextlib.closing(psycopg2.connect(self.database_url)) as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'Asia/Shanghai'")  # dump trading dates, not UTC instants
            with open(dump, "w") as fh:
                cur.copy_expert(f"COPY (SELECT {cols} FROM prices_dailybar) TO STDOUT", fh)
            cur.execute("CREATE TEMP TABLE bars_copy AS SELECT * FROM prices_dailybar")
            conn.commit()
            copy_times = []
            for _ in range(self.args.repeat):
                cur.execute("TRUNCATE prices_dailybar")
                conn.commit()
                started = time.perf_counter()
                with open(dump) as fh:
                    cur.copy_expert(f"COPY prices_dailybar ({cols}) FROM STDIN", fh)
                conn.commit()
                copy_times.append(time.perf_counter() - started)
        ours: dict[str, float] = {}
        for path in ("new", "upsert"):
            times = []
            for _ in range(self.args.repeat):
                self.sql("TRUNCATE prices_dailybar")
                proc = subprocess.run(
                    [PY, "bench/ingest_ours.py", str(dump), "--path", path],
                    cwd=ROOT,
                    env=self.env(),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times.append(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
            ours[path] = statistics.median(times)
        shutil.rmtree(dump.parent, ignore_errors=True)
        raw = statistics.median(copy_times)
        self.results["ingest"] = {
            "rows": rows,
            "raw_copy_s": raw,
            "raw_copy_rows_per_s": rows / raw,
            "ours_s": ours["new"],
            "ours_rows_per_s": rows / ours["new"],
            "ours_fraction_of_copy": raw / ours["new"],
            "ours_upsert_s": ours["upsert"],
            "ours_upsert_fraction_of_copy": raw / ours["upsert"],
        }

    # ---- 5: API latency ------------------------------------------------------------------
    def bench_api(self) -> None:
        target = self.args.api_bars
        have = self.sql("SELECT count(*) FROM prices_dailybar")[0][0]
        if have < target:
            self.seed_bars(target - have)
        if not shutil.which("wrk"):
            raise RuntimeError("wrk not found (apt-get install wrk)")
        port = free_port()
        self.sql("ANALYZE")
        prod = {
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
        }
        self.manage("collectstatic", "--no-input", "-v0", env=self.env(**prod))
        server = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "etfproject.wsgi",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "4",  # sync workers, no threads: CPU-bound Python on 2 cores gains nothing from the GIL
                "--preload",  # load Django once, before forking, not on each worker's first request
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env(**prod),
        )
        symbol = self.sql("SELECT symbol FROM etfs_instrument WHERE is_etf ORDER BY symbol LIMIT 1")[0][0]
        queries = {
            "one ETF, one year daily": f"/api/instruments/{symbol}/bars/?start=2025-11-20&end=2026-11-20",
            "one ETF, ten years weekly": f"/api/instruments/{symbol}/bars/?start=2016-11-20&end=2026-11-20"
            "&interval=1w&page_size=1000",
            "latest bar, all ETFs": "/api/bars/latest/?is_etf=true&page_size=2000",
        }
        try:
            wait_for_port(port, 60, server)
            import requests

            for path in queries.values():  # warm every worker and PostgreSQL's cache; not measured
                for _ in range(8):
                    requests.get(f"http://127.0.0.1:{port}{path}", timeout=60).raise_for_status()
            table = {}
            for name, path in queries.items():
                for conc in (1, 8):
                    out = subprocess.run(
                        [
                            "wrk",
                            "-t",
                            str(min(conc, 2)),
                            "-c",
                            str(conc),
                            "-d",
                            f"{self.args.wrk_seconds}s",
                            "-s",
                            str(ROOT / "bench" / "wrk_report.lua"),
                            f"http://127.0.0.1:{port}{path}",
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    table[f"{name} @c{conc}"] = json.loads(out.strip().splitlines()[-1])
            self.results["api"] = {"bars": self.sql("SELECT count(*) FROM prices_dailybar")[0][0], "queries": table}
        finally:
            server.terminate()
            server.wait(timeout=10)

    def seed_bars(self, count: int) -> None:
        """Add synthetic stocks with ~10 years of bars each until the table holds ``count`` more rows."""
        per = 2430
        n = -(-count // per)
        self.sql(
            f"""
            INSERT INTO etfs_instrument (symbol, code, exchange, name, is_etf, asset_type, is_active,
                price_decimals, provider_fields, locked_fields, created_at, updated_at)
            SELECT lpad((600000 + g)::text, 6, '0') || '.SH', lpad((600000 + g)::text, 6, '0'), 'SH',
                   'BENCH' || g, false, 'stock', true, 2, '{{}}', '[]', now(), now()
            FROM generate_series(1, {n}) g ON CONFLICT DO NOTHING;
            INSERT INTO prices_dailybar (instrument_id, time, open, high, low, close, volume, amount)
            SELECT i.id, d, 10, 10.5, 9.5, 10.1, 100000, 1010000
            FROM etfs_instrument i
            CROSS JOIN LATERAL (
                SELECT (date '2016-12-01' + k)::timestamp AT TIME ZONE 'Asia/Shanghai' AS d
                FROM generate_series(0, 3650) k
                WHERE extract(isodow FROM date '2016-12-01' + k) < 6
                LIMIT {per}
            ) days
            WHERE i.name LIKE 'BENCH%%'
            ON CONFLICT DO NOTHING;
            """.replace("%%", "%")
        )


def render(results: dict) -> str:
    lines = ["| measurement | figure |", "| --- | --- |"]
    b = results.get("backfill")
    if b:
        lines += [
            f"| backfill {b['etfs']} ETFs × {b['bars'] / max(b['etfs'], 1):.0f} bars | {b['wall_s']:.1f} s, "
            f"{b['etfs_per_s']:.1f} ETFs/s, {b['bars_per_s']:,.0f} bars/s |",
            f"| backfill requests | {b['requests']} (minimum {b['min_requests']}; {b['table_requests']} of them "
            f"split-table pages), retries {b['retries']} |",
            f"| adjustments after the backfill | qfq wrong on {b['qfq_wrong_days']} days ({b['qfq_wrong_etfs']} ETFs), "
            f"hfq on {b['hfq_wrong_days']} ({b['hfq_wrong_etfs']} ETFs) of {b['days_checked']:,} |",
            f"| backfill peak memory | {b['peak_rss_mb']:.0f} MB |",
            f"| re-run right after | {b['rerun_s']:.1f} s, {b['rerun_written']} bars written |",
        ]
    a = results.get("akshare")
    if a:
        lines += [
            f"| AKShare + to_sql, same backfill | {a['wall_s']:.1f} s ({a['requests']} requests, "
            f"{a['peak_rss_mb']:.0f} MB) |",
            f"| ours vs AKShare | **{a['ratio_ours_faster']:.1f}× faster**; AKShare volumes in {a['volume_units']} |",
        ]
    d = results.get("daily_update")
    if d:
        lines.append(
            f"| daily update, one new day | {d['wall_s']:.1f} s, {d['requests']} requests = "
            f"{d['list_pages']} list pages + {d['requests'] - d['list_pages']} for {d.get('ex_days', '?')} "
            f"ex-day(s), {d['bars_inserted']} bars "
            f"(history path needs ≥ {d['history_path_min_s']:.0f} s at 50 req/s) |"
        )
    i = results.get("ingest")
    if i:
        lines += [
            f"| raw COPY of {i['rows']:,} bars | {i['raw_copy_s']:.2f} s ({i['raw_copy_rows_per_s']:,.0f} rows/s) |",
            f"| our write path, same rows | {i['ours_s']:.2f} s ({i['ours_rows_per_s']:,.0f} rows/s) = "
            f"**{i['ours_fraction_of_copy'] * 100:.0f}% of COPY** (backfill path) |",
            f"| our merging upsert, same rows into an empty table | {i['ours_upsert_s']:.2f} s = "
            f"{i['ours_upsert_fraction_of_copy'] * 100:.0f}% of COPY |",
        ]
    api = results.get("api")
    if api:
        for name, q in api["queries"].items():
            lines.append(
                f"| API {name} ({api['bars']:,} bars) | p50 {q['p50_ms']:.1f} / p95 {q['p95_ms']:.1f} / "
                f"p99 {q['p99_ms']:.1f} ms, {q['requests']} requests, {q['non2xx']} non-2xx |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", default="backfill,akshare,daily,ingest,api,timescale")
    parser.add_argument("--repeat", type=int, help="backfill runs to take the median of (default 3, quick 1)")
    args = parser.parse_args()
    # One simulated ETF in five is delisted by "today" (see ``etfs.simulator.market``): 1,250
    # simulated give the 1,000 listed ETFs, each of which the backfill fetches.
    args.etfs = 125 if args.quick else 1250
    args.years = 3 if args.quick else 10
    args.repeat = args.repeat or (1 if args.quick else 3)
    # The baseline alone takes minutes per run at full size: one run keeps `make bench` under 20 minutes.
    args.baseline_repeat = 1
    args.workers = 8
    args.api_bars = 300_000 if args.quick else 5_000_000
    args.wrk_seconds = 3 if args.quick else 10
    steps = args.only.split(",")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
    import django

    django.setup()
    from etfs.simulator.formats import render_kline
    from etfs.simulator.market import SimConfig
    from etfs.simulator.server import run_simulator

    config = SimConfig(
        n_etfs=args.etfs,
        n_stocks=0,
        years=args.years,
        today=TODAY,
        seed=1,
        latency=LATENCY_S,
        rps_limit=RPS_LIMIT,
        scheduled=next_day_actions(),
    )
    with postgres_cluster({"shared_buffers": "1GB", "work_mem": "32MB"}) as url, run_simulator(config) as sim:
        for inst in sim.market.instruments():  # generate and render the host's data before timing
            for fqt in ("0", "1"):  # raw, and the qfq series the sync reads as ex-day evidence
                render_kline(sim.market, {"secid": inst.symbol.secid, "fqt": fqt})
        # Millions of immutable simulated bars: keep the collector from walking them mid-run, a
        # pause after which the host would see queued requests arrive as one burst.
        gc.freeze()
        bench = Bench(args, url, sim)
        bench.manage("migrate", "--no-input")
        started = time.perf_counter()
        for step, fn in (
            ("backfill", bench.bench_backfill),
            ("akshare", bench.bench_akshare),
            ("daily", bench.bench_daily_update),
            ("ingest", bench.bench_ingest),
            ("api", bench.bench_api),
        ):
            if step in steps:
                print(f"… {step}", flush=True)
                fn()
        results = {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "machine": {"cpus": os.cpu_count()},
            "total_s": time.perf_counter() - started,
            **bench.results,
        }
    table = render(results)
    print(table)
    if "timescale" in steps:
        # TimescaleDB next to PostgreSQL, in clusters and a simulator of its own (bench/README.md).
        print("… timescale (bench/timescale_bench.py)", flush=True)
        subprocess.run([PY, "bench/timescale_bench.py", *(["--quick"] if args.quick else [])], cwd=ROOT, check=True)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}-{results['mode']}.json", f"latest-{results['mode']}.json"):
        (out_dir / name).write_text(json.dumps({**results, "table": table}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
