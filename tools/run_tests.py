"""Run the whole test suite on the three database tiers: SQLite, PostgreSQL 15, TimescaleDB.

Each tier gets a fresh server started here and stopped at the end; each reports its
result; any failing tier fails the command. Extra arguments go to pytest, e.g.
``python tools/run_tests.py --tiers sqlite -- -k symbols``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.dbservers import postgres_cluster, timescale_cluster  # noqa: E402

TIERS = ("sqlite", "postgres", "timescale")


def run_tier(tier: str, pytest_args: list[str]) -> tuple[int, float]:
    started = time.monotonic()
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env["ETFSYNC_TEST_TIER"] = tier
    server = {
        "sqlite": contextlib.nullcontext(None),
        "postgres": postgres_cluster(),
        "timescale": timescale_cluster(),
    }[tier]
    marker = {
        "sqlite": "not timescale and not postgres",
        "postgres": "not timescale",
        "timescale": "timescale or not timescale",
    }[tier]
    with server as url:
        if url:
            env["DATABASE_URL"] = url
        cmd = [sys.executable, "-m", "pytest", "-m", marker, *pytest_args]
        print(f"\n===== tier {tier}: {' '.join(cmd[2:])}", flush=True)
        code = subprocess.call(cmd, cwd=ROOT, env=env)
    return code, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiers", default=",".join(TIERS), help="comma list of " + ", ".join(TIERS))
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    unknown = set(tiers) - set(TIERS)
    if unknown:
        parser.error(f"unknown tiers {sorted(unknown)}")
    pytest_args = [a for a in args.pytest_args if a != "--"]

    results = {}
    for tier in tiers:
        try:
            results[tier] = run_tier(tier, pytest_args)
        except Exception as exc:  # a server that would not start fails its tier, loudly
            print(f"tier {tier}: could not start its database: {exc}", file=sys.stderr)
            results[tier] = (3, 0.0)

    print("\n===== test tiers")
    for tier, (code, seconds) in results.items():
        verdict = "passed" if code == 0 else f"FAILED (exit {code})"
        print(f"  {tier:<10} {verdict:<18} {seconds:6.1f}s")
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
