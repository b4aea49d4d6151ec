"""Time our write path on rows dumped by ``bench/run.py`` (COPY text format).

The rows are parsed into ``BarRecord``s first, and for a backfill their ``COPY`` text is
built too (neither timed: the sync's fetcher threads do that in parallel with writing); then
the bars go through ``BarWriter`` as ``HistorySync._flush`` sends them: whole instruments
gathered until a batch holds ``batch_size`` rows, one transaction per batch without waiting
for the WAL flush, by ``insert_new`` for a backfill (``--path new``) or the merging ``upsert``
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
    from django.db import connection, transaction

    from etfs.providers.base import BarRecord
    from etfs.sync.bars import relax_commit
    from prices.writer import BarWriter, copy_text

    per_instrument: dict[int, list] = defaultdict(list)
    with open(args.dump) as fh:
        for line in fh:
            iid, stamp, o, h, lo, c, v, a = line.rstrip("\n").split("\t")
            day = dt.date.fromisoformat(stamp[:10])
            per_instrument[int(iid)].append(
                (int(iid), BarRecord(day, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), int(v), Decimal(a)))
            )
    writer = BarWriter()
    batches: list[list] = [[]]
    for rows in per_instrument.values():
        if len(batches[-1]) >= writer.batch_size:
            batches.append([])
        batches[-1].extend(rows)
    texts = [copy_text(batch) if args.path == "new" else None for batch in batches]
    connection.ensure_connection()
    started = time.perf_counter()
    total = 0
    for batch, text in zip(batches, texts, strict=True):
        with transaction.atomic():
            relax_commit()
            counts = writer.insert_new(batch, text) if args.path == "new" else writer.upsert(batch)
        total += counts.inserted
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "inserted": total, "path": args.path}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
