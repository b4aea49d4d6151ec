"""The fund hosts' wire formats, as the research note (``etf-data-sources.md`` §1, §3, §4) records them.

- East Money ``fund.eastmoney.com/pingzhongdata/{code}.js``: a JS file of ``var X = …;``
  assignments; ``Data_netWorthTrend`` holds ``{x: ms at Beijing midnight, y: unit NAV,
  equityReturn, unitMoney}``, ``Data_ACWorthTrend`` ``[ms, accumulated NAV]`` pairs; the whole
  history in one answer.
- East Money ``fund.eastmoney.com/data/rankhandler.aspx?op=ph&dt=fb…``: ``var rankData =
  {datas:["code,name,pinyin,date,unitNAV,accNAV,…,inception,…,type,…"],allRecords:N,…};``
  (unquoted keys; 23 comma-joined fields per fund, positions as AKShare's
  ``fund_exchange_rank_em`` maps them) — each exchange-traded fund's latest NAV.
- East Money ``fundf10.eastmoney.com/jbgk_{code}.html``: an HTML page whose last table holds
  the facts as ``<th>key</th><td>value</td>`` pairs.
- SSE ``query.sse.com.cn/commonSoaQuery.do?sqlId=FUND_LIST…`` (JSONP with ``jsonCallBack``):
  ``result``/``pageHelp.data`` rows ``fundCode, secNameFull, fundAbbr, subClass, INDEX_CODE,
  INDEX_NAME, listingDate`` (YYYYMMDD); ``commonQuery.do?sqlId=COMMON_SSE_ZQPZ_ETFZL_XXPL_ETFGM_SEARCH_L
  &STAT_DATE=YYYY-MM-DD``: every SH ETF's on-exchange shares that day, ``TOT_VOL`` in 万份;
  an empty ``result`` on a non-trading day.
- SZSE ``ShowReport?SHOWTYPE=xlsx&CATALOGID=1000_lf``: the fund list as an xlsx (基金代码,
  基金简称, 基金类别, 投资类别, 上市日期, 当前规模(份), 基金管理人, 基金发起人, 基金托管人, 净值);
  ``CATALOGID=scsj_fund_jjgm&txtStart&txtEnd&jjlb=ETF``: daily shares (日期, 基金代码, 基金简称,
  基金规模(份)) for a window of at most six months — a longer one answers the header only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

from openpyxl import Workbook

from etfs.calendar import SHANGHAI, is_trading_day
from etfs.simulator.funds import SSE_SUBCLASS, SZSE_INVESTMENT_TYPE, SimFunds

PINGZHONG_RE = re.compile(r"^/pingzhongdata/(\d{6})\.js$")
PROFILE_RE = re.compile(r"^/jbgk_(\d{6})\.html$")
RANK_PATH = "/data/rankhandler.aspx"
SSE_SOA_PATH = "/commonSoaQuery.do"
SSE_QUERY_PATH = "/commonQuery.do"
SZSE_REPORT_PATH = "/api/report/ShowReport"
SSE_SHARES_SQL = "COMMON_SSE_ZQPZ_ETFZL_XXPL_ETFGM_SEARCH_L"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SZSE_LIST_HEADER = (
    "基金代码",
    "基金简称",
    "基金类别",
    "投资类别",
    "上市日期",
    "当前规模(份)",
    "基金管理人",
    "基金发起人",
    "基金托管人",
    "净值",
)
SZSE_SHARES_HEADER = ("日期", "基金代码", "基金简称", "基金规模(份)")


def fund_source(path: str) -> str | None:
    """Which simulated host serves ``path`` (the name ``SimConfig.outages`` uses), None if none."""
    if PINGZHONG_RE.match(path) or PROFILE_RE.match(path) or path == RANK_PATH:
        return "eastmoney_fund"
    if path in (SSE_SOA_PATH, SSE_QUERY_PATH):
        return "sse"
    if path == SZSE_REPORT_PATH:
        return "szse"
    return None


def render_fund(funds: SimFunds, path: str, query: dict[str, str]) -> tuple[int, str, bytes] | None:
    """``(status, content type, body)`` for a fund host's path, None when no fund host serves it."""
    if match := PINGZHONG_RE.match(path):
        return _pingzhong(funds, match.group(1))
    if match := PROFILE_RE.match(path):
        return _profile(funds, match.group(1))
    if path == RANK_PATH:
        return 200, "text/plain", _rank(funds, query).encode()
    if path == SSE_SOA_PATH and query.get("sqlId") == "FUND_LIST":
        return 200, "application/javascript", _sse_fund_list(funds, query).encode()
    if path == SSE_QUERY_PATH and query.get("sqlId") == SSE_SHARES_SQL:
        return 200, "application/json", _sse_shares(funds, query).encode()
    if path == SZSE_REPORT_PATH and query.get("CATALOGID") == "1000_lf":
        return 200, XLSX, _szse_fund_list(funds)
    if path == SZSE_REPORT_PATH and query.get("CATALOGID") == "scsj_fund_jjgm":
        return 200, XLSX, _szse_shares(funds, query)
    if fund_source(path):
        return 404, "text/html", b"<html><body><h1>404</h1></body></html>"
    return None


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), SHANGHAI).timestamp() * 1000)


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _pingzhong(funds: SimFunds, code: str) -> tuple[int, str, bytes]:
    inst = next((i for i in funds.etfs() if i.symbol.code == code), None)
    if inst is None:  # the real host answers an unknown code with its 404 page
        return 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>"
    navs = funds.navs(inst.symbol)
    trend = []
    previous = None
    for nav in navs:
        change = 0.0 if previous is None else round(float((nav.accumulated_nav / previous - 1) * 100), 2)
        trend.append({"x": _ms(nav.day), "y": float(nav.unit_nav), "equityReturn": change, "unitMoney": nav.unit_money})
        previous = nav.accumulated_nav
    accumulated = [[_ms(nav.day), float(nav.accumulated_nav)] for nav in navs]
    stamp = dt.datetime.combine(funds.market.today, dt.time(21, 0)).strftime("%Y-%m-%d %H:%M:%S")
    body = (
        f"/*{stamp}*/var ishb=false;/*基金或股票信息*/var fS_name = {_js(inst.name)};var fS_code = {_js(code)};"
        '/*原费率*/var fund_sourceRate="0.00";/*现费率*/var fund_Rate="0.00";/*最小申购金额*/var fund_minsg="";'
        f"/*单位净值走势 equityReturn-净值回报 unitMoney-每份派送金*/var Data_netWorthTrend = {_js(trend)};"
        f"/*累计净值走势*/var Data_ACWorthTrend = {_js(accumulated)};"
        '/*规模变动 mom-较上期环比*/var Data_fluctuationScale = {"categories":[],"series":[]};'
    )
    return 200, "application/javascript", body.encode()


def _rank(funds: SimFunds, query: dict[str, str]) -> str:
    rows = []
    for inst in funds.listed_etfs():
        navs = funds.navs(inst.symbol)
        if not navs:
            continue
        facts = funds.facts(inst.symbol)
        nav = navs[-1]
        fields = [
            inst.symbol.code,
            inst.name,
            "",
            nav.day.isoformat(),
            f"{nav.unit_nav:.4f}",
            f"{nav.accumulated_nav:.4f}",
        ]
        fields += ["0.12", "1.05", "", "-2.31", "5.40", "", "", "3.10", "25.61"]  # period returns, some blank
        fields += [facts.inception.isoformat(), "1", "", "", "", "", "ETF-场内", ""]
        rows.append(",".join(fields))
    try:
        page, size = max(1, int(query.get("pi", "1"))), max(1, int(query.get("pn", "50")))
    except ValueError:
        page, size = 1, 50
    chunk = rows[(page - 1) * size : page * size]
    pages = max(1, -(-len(rows) // size))
    return (
        f"var rankData = {{datas:{_js(chunk)},allRecords:{len(rows)},pageIndex:{page},pageNum:{size},"
        f"allPages:{pages},allNum:{len(rows)},etfNum:{len(rows)},lofNum:0,fbsNum:0}};"
    )


def _profile(funds: SimFunds, code: str) -> tuple[int, str, bytes]:
    inst = next((i for i in funds.etfs() if i.symbol.code == code), None)
    if inst is None:
        return 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>"
    facts = funds.facts(inst.symbol)
    pairs = [
        ("基金全称", f"{facts.company[:-2]}{inst.name}交易型开放式指数证券投资基金"),
        ("基金简称", inst.name),
        ("基金代码", f"{code}（主代码）"),
        ("基金类型", facts.fund_type),
        ("发行日期", facts.inception.strftime("%Y年%m月%d日")),
        ("成立日期/规模", f"{facts.inception.strftime('%Y年%m月%d日')} / 31.234亿份"),
        ("资产规模", "100.12亿元（截止至：2024年03月31日）"),
        ("份额规模", "80.5亿份（截止至：2024年03月31日）"),
        ("基金管理人", f'<a href="//fund.eastmoney.com/company/80000001.html">{facts.company}</a>'),
        ("基金托管人", f'<a href="//fund.eastmoney.com/bank/80001.html">{facts.custodian}</a>'),
        ("基金经理人", '<a href="//fund.eastmoney.com/manager/30000001.html">张三</a>'),
        ("成立来分红", '<a href="//fundf10.eastmoney.com/fhsp_x.html">每份累计0.00元（0次）</a>'),
        ("管理费率", f"{facts.management_fee:.2f}%（每年）"),
        ("托管费率", f"{facts.custody_fee:.2f}%（每年）"),
        ("销售服务费率", "---（每年）"),
        ("最高认购费率", "0.80%（前端）"),
        ("业绩比较基准", f"{facts.index_name}收益率" if facts.index_name else "活期存款利率(税后)"),
        ("跟踪标的", facts.index_name or "该基金无跟踪标的"),
    ]
    cells = "".join(
        f"<tr><th>{a}</th><td>{b}</td><th>{c}</th><td>{d}</td></tr>"
        for (a, b), (c, d) in zip(pairs[::2], pairs[1::2], strict=True)
    )
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>基金档案</title></head><body>'
        '<div class="bs_jz"><table class="w782 comm jloff"><tr><td>单位净值</td></tr></table></div>'
        f'<div class="txt_cont"><table class="info w790">{cells}</table></div></body></html>'
    )
    return 200, "text/html", html.encode()


def _sse_wrap(payload: dict[str, Any], query: dict[str, str]) -> str:
    body = _js(payload)
    callback = query.get("jsonCallBack")
    return f"{callback}({body})" if callback else body


def _page(rows: list[Any], query: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
    try:
        size = max(1, int(query.get("pageHelp.pageSize", "25")))
        page = max(1, int(query.get("pageHelp.pageNo", "1")))
    except ValueError:
        size, page = 25, 1
    chunk = rows[(page - 1) * size : page * size]
    pages = max(1, -(-len(rows) // size))
    return chunk, {"data": chunk, "pageCount": pages, "pageNo": page, "pageSize": size, "total": len(rows)}


def _sse_fund_list(funds: SimFunds, query: dict[str, str]) -> str:
    rows = []
    for inst in funds.listed_etfs():
        if inst.symbol.exchange != "SH":
            continue
        facts = funds.facts(inst.symbol)
        subclass = SSE_SUBCLASS.get(facts.category, "08")
        rows.append(
            {
                "fundCode": inst.symbol.code,
                "secNameFull": inst.name,
                "fundAbbr": inst.name[:8],
                "subClass": subclass,
                "INDEX_CODE": facts.index_code,
                "INDEX_NAME": facts.index_name,
                "listingDate": inst.list_date.strftime("%Y%m%d"),
                "companyName": facts.company,
            }
        )
    chunk, help_ = _page(rows, query)
    return _sse_wrap({"actionErrors": [], "result": chunk, "pageHelp": help_, "isPagination": "true"}, query)


def _sse_shares(funds: SimFunds, query: dict[str, str]) -> str:
    try:
        day = dt.date.fromisoformat(query.get("STAT_DATE", ""))
    except ValueError:
        day = None
    rows: list[dict[str, str]] = []
    if day is not None and is_trading_day(day) and day <= funds.market.today:
        for inst, shares in funds.shares_on(day, "SH"):
            rows.append(
                {
                    "NUM": str(len(rows) + 1),
                    "SEC_CODE": inst.symbol.code,
                    "SEC_NAME": inst.name[:8],
                    "ETF_TYPE": "跨市" if inst.symbol.code.startswith("510") else "单市",
                    "STAT_DATE": day.isoformat(),
                    "TOT_VOL": f"{shares / 10_000:.2f}",
                }
            )
    chunk, help_ = _page(rows, query)
    return _sse_wrap({"actionErrors": [], "result": chunk, "pageHelp": help_}, query)


def _xlsx(header: tuple[str, ...], rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _szse_fund_list(funds: SimFunds) -> bytes:
    rows = []
    for inst in funds.listed_etfs():
        if inst.symbol.exchange != "SZ":
            continue
        facts = funds.facts(inst.symbol)
        latest = funds.shares(inst.symbol)
        navs = funds.navs(inst.symbol)
        rows.append(
            [
                inst.symbol.code,
                inst.name,
                "ETF",
                SZSE_INVESTMENT_TYPE[facts.category],
                inst.list_date.isoformat(),
                f"{latest[-1][1]:,}" if latest else "",
                facts.company,
                facts.company,
                facts.custodian,
                f"{navs[-1].unit_nav:.4f}" if navs else "",
            ]
        )
    return _xlsx(SZSE_LIST_HEADER, rows)


def _months_later(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _szse_shares(funds: SimFunds, query: dict[str, str]) -> bytes:
    try:
        start = dt.date.fromisoformat(query.get("txtStart", ""))
        end = dt.date.fromisoformat(query.get("txtEnd", ""))
    except ValueError:
        return _xlsx(SZSE_SHARES_HEADER, [])
    if query.get("jjlb", "ETF") != "ETF" or end < start or end > _months_later(start, 6):
        return _xlsx(SZSE_SHARES_HEADER, [])  # the real host's answer to a window over six months
    rows = []
    for inst in funds.etfs():
        if inst.symbol.exchange != "SZ":
            continue
        for day, shares in funds.shares(inst.symbol):
            if start <= day <= end:
                rows.append([day.isoformat(), inst.symbol.code, inst.name, f"{shares:,}"])
    rows.sort(key=lambda row: (row[0], row[1]))
    return _xlsx(SZSE_SHARES_HEADER, rows)
