"""The offline demo: set up the embedded SQLite database (sync and serving arrive with later issues)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sim-port", type=int, default=8765)
    parser.add_argument("--port", type=int, default=8000)
    parser.parse_args()
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    print("Setting up and migrating the embedded SQLite database (db.sqlite3)…", flush=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env, check=True)
    print("Done: the embedded database is ready.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
