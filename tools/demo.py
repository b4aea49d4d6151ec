"""The offline demo (`make demo`): simulator -> sync_etfs/sync_stocks -> admin and API on localhost.

1. starts our market-data simulator (East Money + Tencent wire formats) in this process;
2. points ``EASTMONEY_LIST_URL``, ``EASTMONEY_KLINE_URL`` and ``TENCENT_KLINE_URL`` at it;
3. migrates its own SQLite database, ``demo.sqlite3`` (never ``db.sqlite3``, the file a real
   sync uses: simulated prices for real codes must not mix with real ones), and runs
   ``manage.py sync_etfs`` then ``sync_stocks`` (incremental: a second demo run only adds what is new);
4. creates (or resets) a demo superuser and prints its name and password;
5. serves the landing page, the admin and the API with ``manage.py runserver`` until Ctrl-C
   (``--no-serve`` stops after the sync, for CI smoke checks).

Nothing leaves the machine: every request goes to the simulator on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etfs.simulator.server import Simulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_USER = "demo"
# The demo's own database file; a real sync uses db.sqlite3 (or DATABASE_URL).
DEMO_DATABASE = ROOT / "demo.sqlite3"
SUPERUSER_SCRIPT = """
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username={name!r}, defaults={{"email": "demo@localhost"}})
user.is_staff = user.is_superuser = True
user.set_password({password!r})
user.save()
"""


def manage(*args: str, env: dict[str, str], check: bool = True) -> int:
    """Run ``manage.py`` with the demo environment; its output goes straight to the terminal."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=check).returncode


def demo_env(sim: Simulator) -> dict[str, str]:
    """This process's environment on the demo's own database, with the providers aimed at ``sim``."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "SQLITE_PATH": str(DEMO_DATABASE),
            "DEBUG": "1",  # a local demo: development mode (off by default)
            "EASTMONEY_LIST_URL": sim.list_url,
            "EASTMONEY_KLINE_URL": sim.kline_url,
            "TENCENT_KLINE_URL": sim.tencent_url,
            **sim.table_urls(),  # East Money's tables of announced splits and dividends
            **sim.fund_env(),  # NAV, shares, fund facts and the exchanges' ETF lists
            # Our own simulator: no need for the 1 request/s politeness East Money requires.
            "MARKETDATA_RATE_LIMIT": "200",
            "MARKETDATA_BACKOFF_BASE": "0.05",
            "Q_SYNC": "1",  # "sync prices now" in the admin runs inline: no qcluster to start
        }
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim-port", type=int, default=8765, help="simulator port (0: any free port)")
    parser.add_argument("--port", type=int, default=8000, help="port of the admin and API")
    parser.add_argument("--etfs", type=int, default=30, help="simulated ETFs")
    parser.add_argument("--stocks", type=int, default=15, help="simulated stocks")
    parser.add_argument("--years", type=int, default=3, help="years of simulated history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-serve", action="store_true", help="stop after the sync (CI smoke check)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
    os.environ.pop("DATABASE_URL", None)
    os.environ["SQLITE_PATH"] = str(DEMO_DATABASE)
    os.environ["DEBUG"] = "1"
    import django

    django.setup()
    from etfs.simulator.market import SimConfig
    from etfs.simulator.server import run_simulator

    config = SimConfig(n_etfs=args.etfs, n_stocks=args.stocks, years=args.years, seed=args.seed, exchange_only_etfs=4)
    with run_simulator(config, port=args.sim_port) as sim:
        env = demo_env(sim)
        print(f"Simulator: {sim.base_url} (today {sim.today}, {args.etfs} ETFs, {args.stocks} stocks)", flush=True)
        print(f"Migrating the demo's own SQLite database ({DEMO_DATABASE.name})…", flush=True)
        manage("migrate", "--no-input", env=env)
        failed = []
        for command in ("sync_etfs", "sync_stocks"):
            print(f"\n$ python manage.py {command}", flush=True)
            code = manage(command, env=env, check=False)
            if code == 2:  # bad options: nothing was synced, something is wrong with the demo itself
                print(f"{command} refused its options (exit 2)", file=sys.stderr)
                return 2
            if code != 0:
                failed.append(command)
        password = secrets.token_urlsafe(9)
        manage("shell", "--no-imports", "-c", SUPERUSER_SCRIPT.format(name=DEMO_USER, password=password), env=env)
        print(f"\nDemo superuser: {DEMO_USER}  password: {password}")
        if failed:
            print(f"Note: {', '.join(failed)} reported failed instruments (see the sync runs in the admin).")
        if args.no_serve:
            print("Synced; not serving (--no-serve).")
            return 1 if failed else 0
        base = f"http://127.0.0.1:{args.port}"
        print(f"\nServing until Ctrl-C:\n  {base}/              landing page\n  {base}/admin/        admin")
        print(f"  {base}/api/          REST API\n  {base}/api/docs/     API docs\n", flush=True)
        try:
            manage("runserver", f"127.0.0.1:{args.port}", "--noreload", env=env, check=False)
        except KeyboardInterrupt:
            print("\nStopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
