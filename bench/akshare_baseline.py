"""The way most users fill a database today: AKShare's ``fund_etf_hist_em`` per ETF, then
``DataFrame.to_sql``. Run by ``bench/run.py`` in its own process against the simulator.

AKShare calls ``requests.get("https://push2his.eastmoney.com/...")``; this script rewrites
that host to the simulator's inside this process only, so AKShare's real code runs
unchanged. Usage: ``python bench/akshare_baseline.py KLINE_URL DATABASE_URL CODES_FILE``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from urllib.parse import urlsplit

import requests

REAL_KLINE = "https://push2his.eastmoney.com/api/qt/stock/kline/get"


def redirect_requests_to(kline_url: str) -> dict[str, int]:
    counter = {"requests": 0}
    original = requests.sessions.Session.request

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(url, str) and url.startswith(REAL_KLINE):
            url = kline_url + url[len(REAL_KLINE) :]
        counter["requests"] += 1
        return original(self, method, url, *args, **kwargs)

    requests.sessions.Session.request = request  # type: ignore[method-assign]
    return counter


def main() -> int:
    kline_url, database_url, codes_file = sys.argv[1:4]
    counter = redirect_requests_to(kline_url)
    import akshare as ak  # imported after the redirect is installed
    import sqlalchemy

    url = urlsplit(database_url)
    engine = sqlalchemy.create_engine(f"postgresql+psycopg2://{url.netloc}{url.path}")
    with open(codes_file) as fh:
        codes = [line.strip() for line in fh if line.strip()]
    started = time.perf_counter()
    rows = failures = 0
    for code in codes:
        for attempt in range(5):  # what users write: retry a few times on a 429/5xx
            try:
                df = ak.fund_etf_hist_em(symbol=code, period="daily", adjust="")
                break
            except Exception:
                time.sleep(0.2 * (attempt + 1))
        else:
            failures += 1
            continue
        df["code"] = code
        df.to_sql("akshare_bars", engine, if_exists="append", index=False, method="multi", chunksize=1000)
        rows += len(df)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump(
        {
            "seconds": elapsed,
            "rows": rows,
            "instruments": len(codes) - failures,
            "failures": failures,
            "requests": counter["requests"],
            "peak_mb": peak_mb,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
