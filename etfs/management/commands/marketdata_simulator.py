"""Serve the simulated East Money and Tencent hosts on localhost until interrupted."""

from __future__ import annotations

import argparse
import datetime as dt
import threading

from django.core.management.base import BaseCommand, CommandParser

from etfs.simulator.market import SimConfig
from etfs.simulator.poison import POISONS, check_poisons
from etfs.simulator.server import Simulator


def _poisons(value: str) -> tuple[str, ...]:
    try:
        return check_poisons([name.strip() for name in value.split(",") if name.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def wait_for_interrupt() -> None:
    """Block until Ctrl-C (KeyboardInterrupt)."""
    threading.Event().wait()


class Command(BaseCommand):
    help = "Run the market-data simulator (East Money list + kline, Tencent daily bars) on localhost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--etfs", type=int, default=20, help="number of ETFs")
        parser.add_argument("--stocks", type=int, default=10, help="number of stocks")
        parser.add_argument("--years", type=int, default=3, help="years of history")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--fail-rate", type=float, default=0.0, help="share of answers that are 5xx")
        parser.add_argument("--garbage-rate", type=float, default=0.0, help="share of truncated/HTML/empty bodies")
        parser.add_argument("--hang-rate", type=float, default=0.0, help="share of requests that hang")
        parser.add_argument("--hang-seconds", type=float, default=30.0)
        parser.add_argument("--drop-rate", type=float, default=0.0, help="share of connections closed unanswered")
        parser.add_argument("--rps-limit", type=float, default=0.0, help="requests/s before 429 (0 = none)")
        parser.add_argument(
            "--poison",
            type=_poisons,
            default=(),
            help=f"comma list of lies to tell (etfs/simulator/poison.py): {', '.join(POISONS)}",
        )
        parser.add_argument("--poison-symbol", default="", help="the poisoned instrument (default: the first ETF)")
        parser.add_argument(
            "--exchange-only-etfs",
            type=int,
            default=0,
            help="ETFs only SSE/SZSE list, missing from East Money's boards (up to 4: gold, bond, commodity, money)",
        )

    def handle(self, *args, **options) -> None:
        config = SimConfig(
            n_etfs=options["etfs"],
            n_stocks=options["stocks"],
            years=options["years"],
            seed=options["seed"],
            latency=options["latency_ms"] / 1000,
            fail_rate=options["fail_rate"],
            garbage_rate=options["garbage_rate"],
            hang_rate=options["hang_rate"],
            hang_seconds=options["hang_seconds"],
            drop_rate=options["drop_rate"],
            rps_limit=options["rps_limit"],
            poison=options["poison"],
            poison_symbol=options["poison_symbol"],
            exchange_only_etfs=options["exchange_only_etfs"],
        )
        if options["today"] is not None:
            config.today = options["today"]
        sim = Simulator(config, host=options["host"], port=options["port"])
        sim.market.warm_up()
        sim.start()
        listed = sim.market.listed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Simulating {sum(i.is_etf for i in listed)} ETFs and {sum(not i.is_etf for i in listed)} stocks "
                f"up to {sim.today} at {sim.base_url}. Point etfsync at it with:"
            )
        )
        self.stdout.write(f"export EASTMONEY_LIST_URL={sim.list_url}")
        self.stdout.write(f"export EASTMONEY_KLINE_URL={sim.kline_url}")
        self.stdout.write(f"export TENCENT_KLINE_URL={sim.tencent_url}")
        for name, url in sim.table_urls().items():  # East Money's tables of announced splits and dividends
            self.stdout.write(f"export {name}={url}")
        for name, url in sim.fund_env().items():  # the fund hosts (NAV, shares, facts, exchange lists)
            self.stdout.write(f"export {name}={url}")
        self.stdout.write("Press Ctrl-C to stop.")
        try:
            wait_for_interrupt()
        except KeyboardInterrupt:
            self.stdout.write("Stopping the simulator.")
        finally:
            sim.stop()
