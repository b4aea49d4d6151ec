"""East Money's list and kline endpoints answering from real recorded rows (``fixtures/real``).

The 11 ETFs that have both a real raw series (Sina, ``sina_raw_daily_JazCz``, 2020-11-05 ..
2024-07-11) and East Money's real qfq series (``eastmoney_qfq_daily_*``, recorded later, so
it carries the distributions of 2024-07 .. 2026 too; cut here to the raw's days plus the next
one). Answers are rendered as the real host renders them and parsed by the real
``EastMoneyProvider``:

- ``fqt=0``: Sina's open/high/low/close; volume (lots) and amount from East Money's rows of
  the same day (neither is adjusted; Sina counts shares); change, change % and amplitude
  against the previous *raw* close, as real raw answers quote them (000157 on 2018-08-24);
- ``fqt=1``: East Money's recorded rows, change against the previous qfq close (as the
  recorded 11-column files show);
- turnover % is not in the recordings: ``0.00`` stands in (nothing stores it);
- the list names the 11 ETFs without a quote (``-``): the recordings have no snapshot;
- the SSE Composite (``secid=1.000001``, the trading calendar's source) has a bar on every day
  any of the 11 traded: real sessions; its prices (3000.00) stand in, nothing reads them;
- the split and dividend tables were never recorded: asking for them raises ``NotSupported``
  (no request counted), so the sync reads the terms from the two series alone; or, given
  ``split_rows``, the fund split table answers those rows (real facts: the days and ratios of the
  real splits the recordings show) in its wire format (``var pageinfo=…;var jjcf_data=…;``), one
  page per year.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from etfs.providers.base import RequestStats
from etfs.providers.eastmoney import EastMoneyProvider
from etfs.providers.errors import NotSupported

REAL = Path(__file__).parent / "fixtures" / "real"
NAMES = {
    "159915": "创业板",
    "159928": "消费ETF",
    "510880": "红利ETF",
    "512010": "医药ETF",
    "512400": "有色金属",
    "512800": "银行ETF",
    "512980": "传媒ETF",
    "513500": "标普500",
    "515790": "光伏ETF",
    "518880": "黄金ETF",
    "588000": "科创50",
}
LAST_RAW_DAY = dt.date(2024, 7, 11)
# East Money's tables of announced terms: no real answer of either is in the recordings.
TABLE_PATHS = ("/Data/funddataIndex_Interface.aspx", "/api/data/v1/get")


def _rows(name: str) -> list[dict[str, str]]:
    with gzip.open(REAL / name, "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def real_qfq(code: str) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """East Money's recorded qfq (open, high, low, close) by ISO day."""
    return {
        row["date"]: tuple(Decimal(row[key]) for key in ("open", "high", "low", "close"))
        for row in _rows(f"{code}.eastmoney_qfq.csv.gz")
    }


def raw_days(code: str) -> list[str]:
    return [row["date"] for row in _rows(f"{_prefixed(code)}.sina_raw.csv.gz")]


def _prefixed(code: str) -> str:
    return ("sz" if code.startswith("159") else "sh") + code


def _line(day: str, prices: tuple[Decimal, ...], previous: Decimal | None, lots: str, amount: str) -> str:
    open_, close, high, low = prices
    reference = previous if previous is not None and previous > 0 else open_
    change = close - reference
    return ",".join(
        [
            day,
            f"{open_:.3f}",
            f"{close:.3f}",
            f"{high:.3f}",
            f"{low:.3f}",
            lots,
            f"{Decimal(amount):.2f}",
            f"{(high - low) / abs(reference) * 100:.2f}",
            f"{change / abs(reference) * 100:.2f}",
            f"{change:.3f}",
            "0.00",
        ]
    )


class RecordedHost:
    """Stands in for ``HostClients``: renders the answer a request asks for, counts it."""

    def __init__(self, split_rows: dict[int, list[list[str]]] | None = None) -> None:
        self.split_rows = split_rows
        self.stats = RequestStats()
        self.requests: list[dict[str, Any]] = []
        self.klines: dict[tuple[str, str], list[str]] = {}
        for code in NAMES:
            qfq = _rows(f"{code}.eastmoney_qfq.csv.gz")
            by_day = {row["date"]: row for row in qfq}
            raw, previous = [], None
            for row in _rows(f"{_prefixed(code)}.sina_raw.csv.gz"):
                em = by_day[row["date"]]
                prices = tuple(Decimal(row[key]) for key in ("open", "close", "high", "low"))
                raw.append(_line(row["date"], prices, previous, em["volume"], em["amount"]))
                previous = prices[1]
            adjusted, previous = [], None
            for row in qfq:
                prices = tuple(Decimal(row[key]) for key in ("open", "close", "high", "low"))
                adjusted.append(_line(row["date"], prices, previous, row["volume"], row["amount"]))
                previous = prices[1]
            self.klines[(code, "0")], self.klines[(code, "1")] = raw, adjusted

    def get(self, url: str, params: dict[str, Any], *, parse, symbol: str = "", headers: Any = None) -> Any:
        splits = TABLE_PATHS[0] in url and self.split_rows is not None
        if (
            any(table in url for table in TABLE_PATHS) and not splits
        ):  # not recorded: say so, as a host without it would
            raise NotSupported("no answer of East Money's split or dividend table was recorded", host="recorded")
        self.stats.requests += 1
        self.requests.append(dict(params))
        if splits:
            return parse(self.split_page(int(params["year"])))
        return parse(self.list_page(params) if "clist" in url else self.kline(params))

    def split_page(self, year: int) -> str:
        rows = (self.split_rows or {}).get(year, [])
        data = json.dumps(rows, ensure_ascii=False)
        return f"var pageinfo=[{1 if rows else 0},100,1];var jjcf_data={data};var jjcf_jjgs=[];var jjcf_year=[];"

    def list_page(self, params: dict[str, Any]) -> str:
        rows = [
            {"f1": 3, "f12": code, "f13": 0 if code.startswith("159") else 1, "f14": name}
            | dict.fromkeys(("f2", "f3", "f4", "f5", "f6", "f7", "f8", "f15", "f16", "f17", "f18"), "-")
            for code, name in NAMES.items()
        ]
        data = {"total": len(rows), "diff": rows} if int(params.get("pn", 1)) == 1 else None
        return json.dumps({"rc": 0, "data": data}, ensure_ascii=False)

    def kline(self, params: dict[str, Any]) -> str:
        market, code = str(params["secid"]).split(".")
        if (market, code) == ("1", "000001"):
            lines = self.index_lines()
            name = "上证指数"
        elif (code, str(params["fqt"])) in self.klines:
            lines, name = self.klines[(code, str(params["fqt"]))], NAMES[code]
        else:
            return json.dumps({"rc": 0, "data": None})  # as the real host answers an unknown secid
        begin = (
            "0000-00-00" if params["beg"] == "0" else dt.datetime.strptime(params["beg"], "%Y%m%d").date().isoformat()
        )
        end = dt.datetime.strptime(params["end"], "%Y%m%d").date().isoformat()
        chosen = [line for line in lines if begin <= line[:10] <= end]
        data = {"code": code, "market": int(market), "name": name, "decimal": 3, "dktotal": len(lines)}
        return json.dumps({"rc": 0, "data": {**data, "klines": chosen}}, ensure_ascii=False)

    def index_lines(self) -> list[str]:
        """The index's answer: one bar on every day a recorded ETF traded (raw days)."""
        days = sorted({line[:10] for (_code, fqt), lines in self.klines.items() if fqt == "0" for line in lines})
        level = (Decimal("3000.000"),) * 4
        return [_line(day, level, Decimal("3000.000"), "1000000", "3000000000") for day in days]

    def close(self) -> None:
        pass


def recorded_provider(split_rows: dict[int, list[list[str]]] | None = None) -> EastMoneyProvider:
    """The real East Money provider, its requests answered by ``RecordedHost``."""
    provider = EastMoneyProvider("http://recorded.invalid/api/qt/clist/get", "http://recorded.invalid/kline")
    provider.clients.close()
    host = RecordedHost(split_rows)
    provider.clients = host  # type: ignore[assignment]
    provider.stats = host.stats
    return provider
