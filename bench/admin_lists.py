"""Admin page latency at scale: 5,000 instruments and 5 million daily bars on PostgreSQL 15.

Starts a throw-away PostgreSQL cluster, migrates, fills it in SQL (``generate_series``: ~1,000
trading days per instrument), ``ANALYZE``s, then times each admin page in-process with Django's
test client as a logged-in superuser: one warm-up request, then the median of ``--repeat``.
Prints a Markdown table for ``bench/README.md``. Targets: list pages under 300 ms.

    .venv/bin/python bench/admin_lists.py                 # 5,000 x 1,000 = 5 M bars
    .venv/bin/python bench/admin_lists.py --instruments 500 --days 200   # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.dbservers import postgres_cluster  # noqa: E402

TARGET_MS = 300


def fill(instruments: int, days: int) -> tuple[int, float]:
    """Instruments (half ETFs, half stocks) and ``days`` bars each ending on the last final day."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from etfs.calendar import last_final_trading_day, trading_days
    from etfs.models import AssetType, Instrument

    last = last_final_trading_day(timezone.now())
    calendar = trading_days(last - dt.timedelta(days=days * 2), last)[-days:]
    Instrument.objects.bulk_create(
        Instrument(
            symbol=f"{code}.{exchange}",
            code=code,
            exchange=exchange,
            name=f"{'ETF' if is_etf else '股份'}{n}",
            is_etf=is_etf,
            asset_type=AssetType.ETF if is_etf else AssetType.STOCK,
        )
        for n in range(instruments)
        for is_etf in [n % 2 == 0]
        for code, exchange in [(f"{(510000 if is_etf else 600000) + n:06d}", "SH")]
    )
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_days (n int, day date)")
        cur.executemany("INSERT INTO bench_days VALUES (%s, %s)", list(enumerate(calendar)))
        cur.execute(
            """
            INSERT INTO prices_dailybar (instrument_id, time, open, high, low, close, volume, amount)
            SELECT i.id, (d.day::timestamp AT TIME ZONE 'Asia/Shanghai'), p, p * 1.01, p * 0.99, p,
                   1000000 + i.id, p * (1000000 + i.id)
            FROM etfs_instrument i CROSS JOIN bench_days d,
                 LATERAL (SELECT round((3 + (i.id % 50) / 10.0 + sin(d.n / 30.0))::numeric, 3) AS p) x
            """
        )
        # What autovacuum does after a bulk load (PostgreSQL 13+ vacuums after inserts too): sets
        # the visibility map, so per-instrument counts are index-only scans.
        cur.execute("VACUUM ANALYZE prices_dailybar")
        cur.execute("ANALYZE")
        cur.execute("SELECT count(*) FROM prices_dailybar")
        (bars,) = cur.fetchone()
    return bars, time.perf_counter() - started


def measure(repeat: int) -> list[tuple[str, float]]:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    from etfs.models import Instrument

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    etfs = Instrument.objects.etfs().order_by("symbol")
    some = etfs[min(100, etfs.count() - 1)]
    pages = [
        ("Instruments list", "/admin/etfs/instrument/"),
        ("Instruments list, ETFs only", "/admin/etfs/instrument/?is_etf__exact=1"),
        ("Instruments list, search by code", f"/admin/etfs/instrument/?q={some.code}"),
        ("Instruments list, sorted by last bar", "/admin/etfs/instrument/?o=8"),
        ("Instrument page (chart 1Y + recent bars)", f"/admin/etfs/instrument/{some.pk}/change/"),
        ("Instrument page (chart ALL, qfq)", f"/admin/etfs/instrument/{some.pk}/change/?range=ALL&adjust=qfq"),
        ("Daily bars list", "/admin/prices/dailybar/"),
        ("Daily bars list, one instrument", f"/admin/prices/dailybar/?symbol={some.symbol}"),
        ("Daily bars list, one month", "/admin/prices/dailybar/?date_from=2026-01-01&date_to=2026-01-31"),
        ("Daily bars list, page 50", "/admin/prices/dailybar/?p=50"),
        ("Sync runs list", "/admin/etfs/syncrun/"),
        ("Landing page (counts, freshness, gaps cached)", "/"),
        ("Landing page, first view after a sync (gaps computed)", "/?uncached"),
    ]
    results = []
    for label, url in pages:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        times = []
        for _ in range(repeat):
            if "uncached" in url:
                cache.clear()
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        results.append((f"{label} `{url}`", statistics.median(times)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instruments", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1000, help="bars per instrument")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with postgres_cluster() as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "etfproject.settings")
        os.environ["LOG_LEVEL"] = "WARNING"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        bars, seconds = fill(args.instruments, args.days)
        print(f"{args.instruments} instruments, {bars:,} bars loaded in {seconds:.0f} s\n")
        print("| page | median ms |")
        print("| --- | ---: |")
        for label, ms in measure(args.repeat):
            flag = "" if ms < TARGET_MS or "list" not in label.lower() else " (over target)"
            print(f"| {label} | {ms:.0f}{flag} |")
        from django.db import connections

        connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
