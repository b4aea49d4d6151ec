"""Time the ETF sync's fund-data phase (issue 15): a backfill, then a daily update.

A throw-away PostgreSQL 15 cluster, the simulator in this process (30 ms latency per answer,
429 above 50 requests/s, like ``bench/run.py``), ``--etfs`` ETFs on East Money's boards plus
the four only the exchanges list, ``--years`` of history. The prices are synced first with
the fund phase off; then the fund phase is timed alone — backfill (facts, one NAV history per
fund, SSE shares one request per trading day, SZSE one per six months) and, after moving the
simulator one trading day on and syncing that day's prices, the daily update. Prints one JSON
line per phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date(2026, 11, 20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--etfs", type=int, default=200)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--rps", type=float, default=50.0, help="the simulated host's limit; the sync keeps 5 %% below")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    from tools.dbservers import postgres_cluster

    with postgres_cluster({"shared_buffers": "256MB"}) as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from etfs.calendar import SHANGHAI, next_trading_day
        from etfs.models import SyncRun
        from etfs.providers.funds import FundDataProvider
        from etfs.simulator.market import SimConfig
        from etfs.simulator.server import run_simulator
        from etfs.sync.funds import FundSync
        from etfs.sync.options import SyncOptions
        from etfs.sync.runs import RunRecorder
        from etfs.sync.service import run_sync
        from prices.models import FundNav, FundShares

        call_command("migrate", verbosity=0)
        config = SimConfig(
            n_etfs=args.etfs,
            n_stocks=0,
            years=args.years,
            today=TODAY,
            seed=1,
            latency=args.latency_ms / 1000,
            rps_limit=args.rps,
            exchange_only_etfs=4,
        )
        with run_simulator(config) as sim:
            sim.market.warm_up()
            settings.MARKETDATA = {
                **settings.MARKETDATA,
                "EASTMONEY_LIST_URL": sim.list_url,
                "EASTMONEY_KLINE_URL": sim.kline_url,
                **sim.table_urls(),
                "PROVIDERS": ["eastmoney"],
                "RATE_LIMIT": args.rps * 0.952,
            }
            settings.FUNDDATA = {**settings.FUNDDATA, "ENABLED": True, **sim.fund_urls()}

            def at_close() -> dt.datetime:
                return dt.datetime.combine(sim.today, dt.time(16, 0), tzinfo=SHANGHAI)

            def warm_up() -> None:
                """Generate the simulator's fund truth before timing (it shares the CPU with the sync)."""
                for inst in sim.funds.etfs():
                    sim.funds.navs(inst.symbol), sim.funds.shares(inst.symbol), sim.funds.facts(inst.symbol)
                for exchange in ("SH", "SZ"):
                    sim.funds.shares_on(sim.today, exchange)

            def fund_phase(label: str, prices_run: SyncRun) -> None:
                warm_up()
                provider = FundDataProvider()
                recorder = RunRecorder(prices_run)
                navs, shares = FundNav.objects.count(), FundShares.objects.count()
                started = time.perf_counter()
                FundSync(provider, recorder, final_day=sim.today, now=at_close(), workers=args.workers).run()
                elapsed = time.perf_counter() - started
                report = prices_run.fund_report
                by_path: dict[str, int] = {}
                for entry in sim.requests():
                    if "clist" in entry.path or "kline" in entry.path:
                        continue
                    key = "nav history" if entry.path.startswith("/pingzhongdata/") else entry.path
                    key = "profile pages" if key.startswith("/jbgk_") else key
                    by_path[key] = by_path.get(key, 0) + 1
                result = {
                    "phase": label,
                    "etfs": len(sim.funds.listed_etfs()),
                    "seconds": round(elapsed, 2),
                    "requests": provider.stats.requests,
                    "retries": provider.stats.retries,
                    "requests_by_path": by_path,
                    "nav_rows_written": FundNav.objects.count() - navs,
                    "shares_rows_written": FundShares.objects.count() - shares,
                    "nav": report.get("nav"),
                    "errors": len(report.get("errors", [])),
                }
                print(json.dumps(result, ensure_ascii=False), flush=True)
                provider.close()

            run = run_sync(SyncOptions.parse("etfs", workers=args.workers, funds=False), now=at_close())
            sim.request_log.clear()
            fund_phase("backfill", run)
            sim.set_today(next_trading_day(TODAY))
            run = run_sync(SyncOptions.parse("etfs", workers=args.workers, funds=False), now=at_close())
            sim.request_log.clear()
            fund_phase("daily", run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
