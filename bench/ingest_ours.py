"""Time our write path on rows dumped by ``bench/run.py`` (COPY text format).

The rows are parsed into ``BarRecord``s first (not timed: the sync's fetchers do that in
parallel with writing); then each instrument's bars go through ``BarWriter`` exactly as the
sync sends them: ``insert_new`` for a backfill (``--path new``) or the merging ``upsert``
(``--path upsert``). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump")
    parser.add_argument("--path", choices=("new", "upsert"), default="new")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from etfs.providers.base import BarRecord
    from etfs.sync.writer import BarWriter

    per_instrument: dict[int, list] = defaultdict(list)
    with open(args.dump) as fh:
        for line in fh:
            iid, stamp, o, h, lo, c, v, a = line.rstrip("\n").split("\t")
            day = dt.date.fromisoformat(stamp[:10])
            per_instrument[int(iid)].append(
                (int(iid), BarRecord(day, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), int(v), Decimal(a)))
            )
    writer = BarWriter()
    connection.ensure_connection()
    started = time.perf_counter()
    total = 0
    for rows in per_instrument.values():
        counts = writer.insert_new(rows) if args.path == "new" else writer.upsert(rows)
        total += counts.inserted
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "inserted": total, "path": args.path}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
