"""The backfill lane's CPU per row: ``parse_kline_plain`` → (the sync's checks) → ``plain_copy_text``.

One whole-history kline answer per simulated ETF, rendered once; then each is parsed, checked
(``validation.validate_plain`` and the limit check of the big-move rows, as ``fetch_history``
does) and turned into ``COPY`` text, best of ``--repeat`` runs. No database, no network.

    .venv/bin/python bench/plain_lane.py --etfs 50 --years 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")

import django

django.setup()

from etfs.providers.base import PlainBars  # noqa: E402
from etfs.providers.eastmoney import parse_kline_plain  # noqa: E402
from etfs.simulator.formats import render_kline  # noqa: E402
from etfs.simulator.market import SimConfig, SimMarket  # noqa: E402
from prices.writer import plain_copy_text  # noqa: E402

try:  # the checks of issue 13 (absent before it)
    from etfs.sync.validation import ETF_LIMIT, BarRules, screen_moves, validate_plain
except ImportError:  # pragma: no cover - measuring the version before
    validate_plain = None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--etfs", type=int, default=50)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    market = SimMarket(SimConfig(n_etfs=args.etfs, n_stocks=0, years=args.years, today=dt.date(2026, 11, 20)))
    answers = [
        (inst.symbol, render_kline(market, {"secid": inst.symbol.secid, "fqt": "0"}))
        for inst in market.listed()
        if inst.is_etf
    ]
    best = float("inf")
    rows = 0
    for _ in range(args.repeat):
        started = time.process_time()
        rows = 0
        for symbol, text in answers:
            answer = parse_kline_plain(text, symbol)
            assert isinstance(answer, PlainBars)
            if validate_plain is not None:
                rules = BarRules(symbol.canonical, 3, ETF_LIMIT, dt.date(2026, 11, 20))
                validate_plain(answer, rules)
                assert not any(screen_moves(list(pair), rules).held for pair in answer.ex_pairs)
            plain_copy_text(1, answer.rows)
            rows += len(answer.rows)
        best = min(best, time.process_time() - started)
    print(f"{len(answers)} answers, {rows:,} rows: {best / rows * 1e6:.2f} µs a row (best of {args.repeat}, CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
