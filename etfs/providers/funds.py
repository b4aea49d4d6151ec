"""The fund hosts: East Money's fund pages (NAV history, latest NAVs, facts), SSE and SZSE.

One provider object per run, with its own request counters and, per host, its own pooled
session and circuit breaker (separate from the price provider's, so a fund host refusing
requests never stops the price sync, and vice versa). Units are normalised here, once:
SSE's shares come in 万份 (×10,000), SZSE's in 份; NAV dates are Beijing dates (East Money
stamps them as milliseconds at Beijing midnight: converting in UTC would shift them a day).
Wire formats: ``etfs/simulator/fund_formats.py`` (the simulator speaks them) and the research
note's §1, §3 and §4.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from etfs.calendar import SHANGHAI
from etfs.providers.base import RequestStats
from etfs.providers.errors import BadPayload, ProviderError
from etfs.providers.http import ClientOptions, HostClients
from etfs.providers.jsonp import load_object
from etfs.symbols import Symbol

SSE_SHARES_SQL = "COMMON_SSE_ZQPZ_ETFZL_XXPL_ETFGM_SEARCH_L"
# SSE FUND_LIST subclasses of ETFs (third-party code: 01 SH, 02 bond, 03 cross-market, 04/06
# others, 08 SH-SZ-HK, 09 STAR, 31-38 STAR plus and newer); asking for all keeps gold,
# commodity and money-market ETFs in.
SSE_SUBCLASSES = "01,02,03,04,06,08,09,31,32,33,34,35,36,37,38"
SSE_PAGE_SIZE = 10000
RANK_PAGE_SIZE = 30000
WAN = 10_000
FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class NavRecord:
    day: dt.date
    unit_nav: Decimal
    accumulated_nav: Decimal | None


@dataclass(frozen=True)
class LatestNav:
    """One row of the all-funds latest-NAV list (by fund code: the list carries no exchange)."""

    code: str
    name: str
    day: dt.date
    unit_nav: Decimal
    accumulated_nav: Decimal | None
    inception: dt.date | None


@dataclass(frozen=True)
class FundFacts:
    """The profile page's facts; fees in % per year."""

    code: str
    fund_type: str
    company: str
    custodian: str
    inception: dt.date | None
    management_fee: Decimal | None
    custody_fee: Decimal | None
    tracking_index_name: str


@dataclass(frozen=True)
class ExchangeFund:
    """An ETF on an exchange's own fund list; the exchange is the list's, never the code's."""

    symbol: Symbol
    name: str
    list_date: dt.date | None
    index_code: str = ""
    index_name: str = ""
    company: str = ""
    custodian: str = ""


@dataclass(frozen=True)
class SharesRecord:
    symbol: Symbol
    day: dt.date
    shares: int


def _decimal(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    text = str(raw).replace(",", "").strip()
    if text in ("", "-", "--", "---"):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BadPayload(f"not a number: {raw!r}") from None


def _nav(raw: Any) -> Decimal | None:
    value = _decimal(raw)
    return None if value is None else value.quantize(FOUR, rounding=ROUND_HALF_UP)


def _beijing_day(ms: Any) -> dt.date:
    try:
        return dt.datetime.fromtimestamp(int(ms) / 1000, SHANGHAI).date()
    except (TypeError, ValueError, OverflowError):
        raise BadPayload(f"not a timestamp: {ms!r}") from None


def _iso_day(raw: Any) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = str(raw).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
    raise BadPayload(f"not a date: {raw!r}")


def _js_array(text: str, variable: str) -> list[Any]:
    """The JSON array assigned to ``var <variable> = [...]`` in a JS file."""
    match = re.search(rf"var\s+{variable}\s*=\s*", text)
    if match is None:
        raise BadPayload(f"no {variable} in the answer")
    try:
        value, _ = json.JSONDecoder(parse_float=Decimal).raw_decode(text, match.end())
    except ValueError as exc:
        raise BadPayload(f"{variable} is not a JSON array ({exc})") from None
    if not isinstance(value, list):
        raise BadPayload(f"{variable} is not an array")
    return value


def parse_nav_history(text: str) -> list[NavRecord]:
    """``pingzhongdata/{code}.js``: unit NAVs with the accumulated NAV of the same day, oldest first."""
    units = _js_array(text, "Data_netWorthTrend")
    accumulated = {}
    for pair in _js_array(text, "Data_ACWorthTrend"):
        if isinstance(pair, list) and len(pair) >= 2:
            accumulated[_beijing_day(pair[0])] = _nav(pair[1])
    records: dict[dt.date, NavRecord] = {}
    for point in units:
        if not isinstance(point, dict) or "x" not in point:
            raise BadPayload(f"Data_netWorthTrend point without x: {point!r:.80}")
        unit = _nav(point.get("y"))
        if unit is None or unit <= 0:
            continue  # a day without a published unit NAV
        day = _beijing_day(point["x"])
        records[day] = NavRecord(day, unit, accumulated.get(day))
    return [records[day] for day in sorted(records)]


def parse_nav_latest(text: str) -> tuple[int, list[LatestNav]]:
    """``rankhandler.aspx?dt=fb``: ``(allRecords, rows)``; 23 comma-joined fields per fund."""
    match = re.search(r"datas\s*:\s*", text)
    if match is None:
        raise BadPayload("no datas in the rank list")
    try:
        rows, end = json.JSONDecoder().raw_decode(text, match.end())
    except ValueError as exc:
        raise BadPayload(f"datas is not a JSON array ({exc})") from None
    total_match = re.search(r"allRecords\s*:\s*(\d+)", text[end:])
    if not isinstance(rows, list) or total_match is None:
        raise BadPayload("rank list without datas or allRecords")
    parsed = []
    for row in rows:
        fields = str(row).split(",")
        if len(fields) < 16:
            raise BadPayload(f"rank row with {len(fields)} fields: {row!r:.80}")
        unit = _nav(fields[4])
        day = _iso_day(fields[3]) if fields[3] else None
        if unit is None or day is None:
            continue  # no NAV published yet (a fund in subscription)
        parsed.append(
            LatestNav(
                code=fields[0].strip(),
                name=fields[1].strip(),
                day=day,
                unit_nav=unit,
                accumulated_nav=_nav(fields[5]),
                inception=_iso_day(fields[15]) if fields[15] else None,
            )
        )
    return int(total_match.group(1)), parsed


_TAG = re.compile(r"<[^>]+>")
_PAIR = re.compile(r"<th[^>]*>(.*?)</th>\s*<td[^>]*>(.*?)</td>", re.DOTALL)
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def _text(html: str) -> str:
    return " ".join(_TAG.sub("", html).replace("&nbsp;", " ").split())


def parse_profile(text: str, code: str) -> FundFacts:
    """``jbgk_{code}.html``: the last table's ``<th>key</th><td>value</td>`` pairs, by key."""
    start = text.rfind("<table")
    if start < 0:
        raise BadPayload("no table in the profile page")
    pairs = {_text(key): _text(value) for key, value in _PAIR.findall(text[start:])}
    if "基金类型" not in pairs and "基金管理人" not in pairs:
        raise BadPayload("the profile page has no fund facts table")

    def date_of(value: str) -> dt.date | None:
        match = _CN_DATE.search(value or "")
        return dt.date(*map(int, match.groups())) if match else None

    def fee(value: str) -> Decimal | None:
        match = _PERCENT.search(value or "")
        return Decimal(match.group(1)) if match else None

    index = pairs.get("跟踪标的", "")
    return FundFacts(
        code=code,
        fund_type=pairs.get("基金类型", ""),
        company=pairs.get("基金管理人", ""),
        custodian=pairs.get("基金托管人", ""),
        inception=date_of(pairs.get("成立日期/规模", "")),
        management_fee=fee(pairs.get("管理费率", "")),
        custody_fee=fee(pairs.get("托管费率", "")),
        tracking_index_name="" if "无跟踪标的" in index else index,
    )


def parse_sse_page(text: str) -> tuple[int, list[dict[str, Any]]]:
    """An SSE ``commonQuery``/``commonSoaQuery`` answer: ``(page count, rows)``."""
    payload = load_object(text, "result", "SSE answer")
    page_help = payload.get("pageHelp") or {}
    rows = page_help.get("data") or payload.get("result") or []
    if not isinstance(rows, list):
        raise BadPayload("SSE rows are not a list")
    return int(page_help.get("pageCount") or 1), rows


def parse_sse_funds(rows: list[dict[str, Any]]) -> list[ExchangeFund]:
    funds = []
    for row in rows:
        code = str(row.get("fundCode") or "").strip()
        if not code:
            raise BadPayload(f"SSE fund row without fundCode: {row!r:.80}")
        funds.append(
            ExchangeFund(
                symbol=Symbol(code, "SH"),
                name=str(row.get("secNameFull") or row.get("fundAbbr") or "").strip(),
                list_date=_iso_day(row.get("listingDate")),
                index_code=str(row.get("INDEX_CODE") or "").strip(),
                index_name=str(row.get("INDEX_NAME") or "").strip(),
                company=str(row.get("companyName") or "").strip(),
            )
        )
    return funds


def parse_sse_shares(rows: list[dict[str, Any]]) -> list[SharesRecord]:
    """SSE ETF scale rows: ``TOT_VOL`` is in 万份 (10,000 shares)."""
    records = []
    for row in rows:
        code = str(row.get("SEC_CODE") or "").strip()
        volume = _decimal(row.get("TOT_VOL"))
        day = _iso_day(row.get("STAT_DATE"))
        if not code or day is None:
            raise BadPayload(f"SSE shares row without code or date: {row!r:.80}")
        if volume is None:
            continue
        shares = (volume * WAN).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        records.append(SharesRecord(Symbol(code, "SH"), day, int(shares)))
    return records


def _sheet_rows(content: bytes) -> Iterator[dict[str, Any]]:
    """The first sheet of an xlsx as dicts keyed by the header row."""
    from openpyxl import load_workbook  # here: a large library only the SZSE xlsx answers need

    if not content.startswith(b"PK"):
        raise BadPayload("not an xlsx file")
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BadPayload(f"unreadable xlsx ({type(exc).__name__}: {exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(cell or "").strip() for cell in next(rows, ())]
        for row in rows:
            if row is None or all(cell in (None, "") for cell in row):
                continue
            yield dict(zip(header, row, strict=False))
    finally:
        book.close()


def _code(raw: Any) -> str:
    """SZSE codes come as text or as numbers (leading zeros lost): six digits either way."""
    if isinstance(raw, int | float):
        return f"{int(raw):06d}"
    text = _text(str(raw or ""))
    match = re.search(r"\d{6}", text)
    if match is None:
        raise BadPayload(f"no fund code in {raw!r:.40}")
    return match.group(0)


def parse_szse_funds(content: bytes) -> list[ExchangeFund]:
    """SZSE ``1000_lf``: every listed fund; ETFs are the rows whose 基金类别 says ETF."""
    funds = []
    for row in _sheet_rows(content):
        if "基金代码" not in row:
            raise BadPayload("SZSE fund list without 基金代码")
        if "ETF" not in str(row.get("基金类别") or "").upper():
            continue
        funds.append(
            ExchangeFund(
                symbol=Symbol(_code(row["基金代码"]), "SZ"),
                name=str(row.get("基金简称") or "").strip(),
                list_date=_iso_day(row.get("上市日期")),
                company=str(row.get("基金管理人") or "").strip(),
                custodian=str(row.get("基金托管人") or "").strip(),
            )
        )
    return funds


def parse_szse_shares(content: bytes) -> list[SharesRecord]:
    """SZSE ``scsj_fund_jjgm``: 日期, 基金代码, 基金简称, 基金规模(份) — shares already in 份."""
    records = []
    for row in _sheet_rows(content):
        shares = _decimal(row.get("基金规模(份)"))
        day = _iso_day(row.get("日期"))
        if day is None or shares is None:
            continue
        records.append(SharesRecord(Symbol(_code(row.get("基金代码")), "SZ"), day, int(shares)))
    return records


class FundDataProvider:
    """Fund data for the sync. Raises ``ProviderError`` subclasses like the price providers."""

    name = "funds"

    def __init__(self, options: ClientOptions | None = None, urls: dict[str, str] | None = None) -> None:
        self.urls = {**settings.FUNDDATA, **(urls or {})}
        self.stats = RequestStats()
        options = options or ClientOptions.from_settings()
        self._eastmoney = HostClients(options, self.stats, {"Referer": "https://fundf10.eastmoney.com/"})
        self._sse = HostClients(options, self.stats, {"Referer": "https://www.sse.com.cn/"})
        self._szse = HostClients(
            options, self.stats, {"Referer": "https://www.szse.cn/market/fund/volume/etf/index.html"}
        )

    def close(self) -> None:
        for clients in (self._eastmoney, self._sse, self._szse):
            clients.close()

    # --- NAV ------------------------------------------------------------------------------------
    def nav_history(self, symbol: Symbol) -> list[NavRecord]:
        """The fund's whole NAV history since inception, in one request."""
        url = self.urls["NAV_HISTORY_URL"].format(code=symbol.code)
        return self._eastmoney.get(url, {}, parse=parse_nav_history, symbol=symbol.canonical)

    def latest_navs(self) -> list[LatestNav]:
        """Every exchange-traded fund's latest published NAV (one request for ~1,600 funds)."""
        rows: list[LatestNav] = []
        page = 1
        while True:
            params = {
                "op": "ph",
                "dt": "fb",
                "ft": "ct",
                "rs": "",
                "gs": "0",
                "sc": "1nzf",
                "st": "desc",
                "pi": str(page),
                "pn": str(RANK_PAGE_SIZE),
            }
            total, chunk = self._eastmoney.get(self.urls["NAV_LATEST_URL"], params, parse=parse_nav_latest)
            rows += chunk
            if not chunk or page * RANK_PAGE_SIZE >= total:
                return rows
            page += 1

    # --- facts and lists ---------------------------------------------------------------------------
    def fund_facts(self, symbol: Symbol) -> FundFacts:
        url = self.urls["PROFILE_URL"].format(code=symbol.code)
        return self._eastmoney.get(
            url, {}, parse=lambda text: parse_profile(text, symbol.code), symbol=symbol.canonical
        )

    def sse_funds(self) -> list[ExchangeFund]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {
                "sqlId": "FUND_LIST",
                "fundType": "00",
                "subClass": SSE_SUBCLASSES,
                "isPagination": "true",
                "pageHelp.pageSize": str(SSE_PAGE_SIZE),
                "pageHelp.pageNo": str(page),
                "pageHelp.beginPage": str(page),
                "pageHelp.cacheSize": "1",
                "pageHelp.endPage": str(page),
            }
            pages, chunk = self._sse.get(self.urls["SSE_FUND_LIST_URL"], params, parse=parse_sse_page)
            rows += chunk
            if page >= pages or not chunk:
                return parse_sse_funds(rows)
            page += 1

    def szse_funds(self) -> list[ExchangeFund]:
        params = {"SHOWTYPE": "xlsx", "CATALOGID": "1000_lf", "TABKEY": "tab1"}
        return self._szse.get(self.urls["SZSE_FUND_LIST_URL"], params, parse=parse_szse_funds, binary=True)

    # --- shares ------------------------------------------------------------------------------------
    def sse_shares(self, day: dt.date) -> list[SharesRecord]:
        """Every SH ETF's on-exchange shares on ``day`` (empty on a non-trading day)."""
        params = {
            "isPagination": "true",
            "pageHelp.pageSize": str(SSE_PAGE_SIZE),
            "pageHelp.pageNo": "1",
            "pageHelp.beginPage": "1",
            "pageHelp.cacheSize": "1",
            "pageHelp.endPage": "1",
            "sqlId": SSE_SHARES_SQL,
            "STAT_DATE": day.isoformat(),
        }
        _, rows = self._sse.get(self.urls["SSE_SHARES_URL"], params, parse=parse_sse_page, symbol=day.isoformat())
        return parse_sse_shares(rows)

    def szse_shares(self, start: dt.date, end: dt.date) -> list[SharesRecord]:
        """Every SZ ETF's on-exchange shares for each day of ``start..end`` (at most six months)."""
        if end < start or (end - start).days > MAX_SZSE_WINDOW_DAYS:
            raise ValueError(f"SZSE answers windows of up to six months, not {start}..{end}")
        params = {
            "SHOWTYPE": "xlsx",
            "CATALOGID": "scsj_fund_jjgm",
            "TABKEY": "tab1",
            "txtStart": start.isoformat(),
            "txtEnd": end.isoformat(),
            "jjlb": "ETF",
        }
        return self._szse.get(
            self.urls["SZSE_SHARES_URL"], params, parse=parse_szse_shares, binary=True, symbol=f"{start}..{end}"
        )


# Six calendar months are at least 181 days; a window of 180 days (start + 179) is always accepted.
MAX_SZSE_WINDOW_DAYS = 179

__all__ = [
    "ExchangeFund",
    "FundDataProvider",
    "FundFacts",
    "LatestNav",
    "NavRecord",
    "ProviderError",
    "SharesRecord",
]
