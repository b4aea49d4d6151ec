"""East Money's bulk tables of announced corporate actions, rendered from the simulated market.

The wire formats are the real ones as ``etfs/providers/announcements.py`` documents them:

- ``/Data/funddataIndex_Interface.aspx?dt=9&page=N&year=YYYY`` (天天基金 基金拆分): ``var
  pageinfo=[pages,100,page];var jjcf_data=[[code, name, date, type, ratio, ""],…];var
  jjcf_jjgs=[…];var jjcf_year=[…];``, 100 rows a page, newest first (``sort=asc``: oldest).
  One row per simulated ETF action with a ratio ≠ 1 up to today (delisted ETFs included),
  dated on the action's ex-date — for a conversion a day without a bar, as on the real host —
  and typed 份额分拆 (a whole ratio above 1), 份额合并 (one over a whole number) or 份额折算
  (any other: the odd ratios, written to 10 decimals as the real ``1.1106808610``). Like the real
  table it lists every fund, so ``SimConfig.table_filler`` adds ~150 deterministic rows a year
  (2005 on, the table's first year) for codes the simulator never lists: a consumer must page
  and filter by code. ``jjcf_jjgs`` and ``jjcf_year`` (the page's filter menus) are not in any
  recorded answer: their shape here is a guess, and nothing reads them.
- ``/api/data/v1/get?reportName=RPT_SHAREBONUS_DET&filter=(SECURITY_CODE in ("…",…))&pageNumber
  &pageSize`` (数据中心 分红送配): the real columns, per 10 shares (``PRETAX_BONUS_RMB`` = cash × 10,
  ``BONUS_IT_RATIO`` = ``IT_RATIO`` = (ratio − 1) × 10, null where none), one row per simulated
  stock action up to today, ``EX_DIVIDEND_DATE`` newest first (``sortTypes=1``: oldest), and
  one row per action of the next 30 days as an announced plan (terms, but no ``EX_DIVIDEND_DATE``);
  ``pageSize`` honoured up to 500; no rows is the host's ``success: false, code 9201``. ETFs are
  not in it (the real table answers them with no rows). A filter other than ``SECURITY_CODE in
  (…)`` or ``SECURITY_CODE="…"`` gets the host's error shape (``success: false``, a code ≠ 0; the
  code and message are ours: no recorded answer shows them).

Each table is built once per simulated day (``SimMarket.cached_render``: ``set_today`` clears it),
so paging a 1,000-ETF universe's year costs a slice and a ``json.dumps`` of 100 rows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from decimal import Decimal
from typing import Any

from etfs.simulator.adjust import SimAction
from etfs.simulator.market import SimInstrument, SimMarket
from etfs.simulator.sessions import trading_days

FUND_SPLITS_PATH = "/Data/funddataIndex_Interface.aspx"
STOCK_BONUS_PATH = "/api/data/v1/get"
STOCK_BONUS_REPORT = "RPT_SHAREBONUS_DET"
FUND_SPLITS_PAGE = 100
STOCK_BONUS_MAX_PAGE = 500
FIRST_TABLE_YEAR = 2005  # the real split table's first year
FILLER_PER_YEAR = (140, 160)
PLAN_DAYS = 30  # a stock's action this close after today is in the dividend table as a plan (no ex-date)
SPLIT, CONVERSION, MERGE = "份额分拆", "份额折算", "份额合并"
JS_TYPE = "application/x-javascript"
VERSION = "9c2d8e1f3b7a4c5d6e0f1a2b3c4d5e6f"
EMPTY = {"version": VERSION, "result": None, "success": False, "message": "返回数据为空", "code": 9201}
COMPANIES = [
    ["80000222", "华夏基金"],
    ["80000229", "易方达基金"],
    ["80000220", "南方基金"],
    ["80000223", "嘉实基金"],
    ["80000248", "广发基金"],
    ["80000226", "博时基金"],
]
_IN_FILTER = re.compile(r'\(\s*SECURITY_CODE\s+in\s+\(\s*("\d{6}"(?:\s*,\s*"\d{6}")*)\s*\)\s*\)', re.IGNORECASE)
_EQ_FILTER = re.compile(r'\(\s*SECURITY_CODE\s*=\s*"(\d{6})"\s*\)')


def table_source(path: str) -> str | None:
    """The simulated host behind a table's path, as ``SimConfig.outages`` names it."""
    if path == FUND_SPLITS_PATH:
        return "eastmoney_fund_splits"
    if path == STOCK_BONUS_PATH:
        return "eastmoney_datacenter"
    return None


def render_table(market: SimMarket, path: str, query: dict[str, str]) -> tuple[int, str, str] | None:
    """``(status, content type, body)`` for a table's path; None for any other path."""
    if path == FUND_SPLITS_PATH:
        if query.get("dt") != "9":
            return 404, "text/html", "<html><body><h1>404</h1><p>the simulator serves dt=9 only</p></body></html>"
        return 200, JS_TYPE, render_fund_splits(market, query)
    if path == STOCK_BONUS_PATH:
        return 200, "application/json", render_stock_bonus(market, query)
    return None


# --- funds: splits, merges, share conversions (dt=9) ----------------------------------------------
def split_type(ratio: Decimal) -> str:
    """份额分拆 for a whole ratio above 1, 份额合并 for one over a whole number, else 份额折算."""
    if ratio > 1 and ratio == ratio.to_integral_value():
        return SPLIT
    if ratio < 1 and (1 / ratio) == (1 / ratio).to_integral_value():
        return MERGE
    return CONVERSION


def ratio_text(ratio: Decimal, kind: str) -> str:
    """As the real table writes it: ``4`` for a split, ``1.1106808610`` (10 places at least) for a conversion."""
    if kind == CONVERSION:
        places = max(10, -int(ratio.as_tuple().exponent))
        return f"{ratio:.{places}f}"
    return f"{ratio.normalize():f}"


def _fund_rows(market: SimMarket) -> list[tuple[dt.date, str, list[str]]]:
    """Every simulated ETF action with a ratio ≠ 1 up to today, as ``(day, code, row)``."""
    rows = []
    for inst in market.instruments():
        if not inst.is_etf:
            continue
        for action in inst.actions:
            if action.split_ratio != 1:
                kind = split_type(action.split_ratio)
                day = action.ex_date.isoformat()
                rows.append(
                    (
                        action.ex_date,
                        inst.symbol.code,
                        [inst.symbol.code, inst.name, day, kind, ratio_text(action.split_ratio, kind), ""],
                    )
                )
    return rows


def _filler(seed: int, year: int, taken: frozenset[str]) -> list[tuple[dt.date, str, list[str]]]:
    """The year's rows of funds the simulator does not list (open-end funds, LOFs), the same every time."""
    rng = random.Random(f"{seed}/fund-splits/{year}")
    rows = []
    used: set[str] = set()
    first = dt.date(year, 1, 1)
    length = (dt.date(year + 1, 1, 1) - first).days
    for _ in range(rng.randint(*FILLER_PER_YEAR)):
        code = rng.choice(("0", "16", "50")) + "".join(rng.choice("0123456789") for _ in range(5))
        code = code[:6]
        if code in taken or code in used:
            continue
        used.add(code)
        kind = rng.choices((SPLIT, CONVERSION, MERGE), weights=(3, 6, 1))[0]
        if kind == SPLIT:
            ratio = Decimal(rng.choice((2, 3, 4, 5, 10)))
        elif kind == MERGE:
            ratio = Decimal(rng.choice(("0.5", "0.2", "0.1")))
        else:
            ratio = Decimal(str(round(rng.uniform(0.3, 3.0), 9)))
        day = first + dt.timedelta(days=rng.randrange(length))
        name = rng.choice(("华夏", "易方达", "南方", "嘉实", "广发", "博时")) + rng.choice(
            ("成长混合", "稳健债券A", "中证500指数(LOF)", "价值精选", "红利指数A", "沪深300指数增强")
        )
        rows.append((day, code, [code, name, day.isoformat(), kind, ratio_text(ratio, kind), ""]))
    return rows


def fund_split_rows(market: SimMarket, year: int | None) -> list[list[str]]:
    """The table's rows of ``year`` (None: every year) up to today, newest first; built once a day."""

    def build() -> list[list[str]]:
        actions = market.cached_render(("fund-splits",), lambda: _fund_rows(market))
        rows = [row for row in actions if year is None or row[0].year == year]
        if market.config.table_filler:
            taken = market.codes()
            years = [year] if year is not None else list(range(FIRST_TABLE_YEAR, market.today.year + 1))
            for each in years:
                if FIRST_TABLE_YEAR <= each <= market.today.year:
                    rows += [row for row in _filler(market.seed, each, taken) if row[0] <= market.today]
        rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
        return [row[2] for row in rows]

    return market.cached_render(("fund-splits", year), build)


def render_fund_splits(market: SimMarket, query: dict[str, str]) -> str:
    year_text = query.get("year", "").strip()
    year = int(year_text) if year_text.isdigit() else None
    rows = [] if year_text and year is None else fund_split_rows(market, year)
    if query.get("sort") == "asc":
        rows = rows[::-1]
    page = _positive(query.get("page"), 1)
    pages = math.ceil(len(rows) / FUND_SPLITS_PAGE)
    chunk = rows[(page - 1) * FUND_SPLITS_PAGE : page * FUND_SPLITS_PAGE]
    years = list(range(market.today.year, FIRST_TABLE_YEAR - 1, -1))
    return (
        f"var pageinfo={_js([pages, FUND_SPLITS_PAGE, page])};var jjcf_data={_js(chunk)};"
        f"var jjcf_jjgs={_js(COMPANIES)};var jjcf_year={_js(years)};"
    )


# --- stocks: dividends and bonus issues (RPT_SHAREBONUS_DET) ----------------------------------------
def _per_ten(value: Decimal) -> float | None:
    return float(value * 10) if value else None


def _bonus_row(inst: SimInstrument, action: SimAction) -> dict[str, Any]:
    cash = _per_ten(action.cash)
    shares = _per_ten(action.split_ratio - 1)
    ex = action.ex_date
    before = trading_days(ex - dt.timedelta(days=20), ex - dt.timedelta(days=1))
    record_day = before[-1] if before else ex - dt.timedelta(days=1)
    report = dt.date(ex.year - 1, 12, 31) if ex.month <= 8 else dt.date(ex.year, 6, 30)
    plan = "10"
    if shares is not None:
        plan += f"转{((action.split_ratio - 1) * 10).normalize():f}"
    if cash is not None:
        plan += f"派{(action.cash * 10).normalize():f}元(含税)"
    return {
        "SECUCODE": inst.symbol.canonical,
        "SECURITY_CODE": inst.symbol.code,
        "SECURITY_NAME_ABBR": inst.name,
        "PLAN_NOTICE_DATE": _stamp(report + dt.timedelta(days=90)),
        "BONUS_IT_RATIO": shares,
        "BONUS_RATIO": None,
        "IT_RATIO": shares,
        "PRETAX_BONUS_RMB": cash,
        "DIVIDENT_RATIO": None,
        "EX_DIVIDEND_DATE": _stamp(ex),
        "EQUITY_RECORD_DATE": _stamp(record_day),
        "REPORT_DATE": _stamp(report),
        "ASSIGN_PROGRESS": "实施分配",
        "IMPL_PLAN_PROFILE": plan,
    }


def _plan_row(inst: SimInstrument, action: SimAction) -> dict[str, Any]:
    """An announced plan not implemented yet: its terms, no ex-date and no record date."""
    return {
        **_bonus_row(inst, action),
        "EX_DIVIDEND_DATE": None,
        "EQUITY_RECORD_DATE": None,
        "ASSIGN_PROGRESS": "股东大会决议通过",
    }


def _stock_rows(market: SimMarket) -> dict[str, list[tuple[dt.date, dict[str, Any]]]]:
    """Every simulated stock's actions up to today as table rows, by code, and the plans of the
    next ``PLAN_DAYS`` without an ex-date (sorted as the newest: the host lists nulls first)."""
    table: dict[str, list[tuple[dt.date, dict[str, Any]]]] = {}
    for inst in market.instruments():
        if not inst.is_etf:
            plans = market.upcoming_actions(inst.symbol, PLAN_DAYS) if inst.delist_date is None else ()
            table[inst.symbol.code] = [(a.ex_date, _bonus_row(inst, a)) for a in inst.actions] + [
                (dt.date.max, _plan_row(inst, a)) for a in plans
            ]
    return table


def filter_codes(text: str | None) -> list[str] | None:
    """The codes of ``(SECURITY_CODE in ("…",…))`` or ``(SECURITY_CODE="…")``; [] when there is no
    filter (the whole table); None when it is neither."""
    if text is None or not text.strip():
        return []
    text = text.strip()
    if match := _IN_FILTER.fullmatch(text):
        return re.findall(r"\d{6}", match.group(1))
    if match := _EQ_FILTER.fullmatch(text):
        return [match.group(1)]
    return None


def render_stock_bonus(market: SimMarket, query: dict[str, str]) -> str:
    if query.get("reportName") != STOCK_BONUS_REPORT:
        return _js({"version": None, "result": None, "success": False, "message": "报表不存在", "code": 9501})
    codes = filter_codes(query.get("filter"))
    if codes is None:
        return _js({"version": VERSION, "result": None, "success": False, "message": "请求参数错误", "code": 9501})
    table = market.cached_render(("stock-bonus",), lambda: _stock_rows(market))
    chosen = [row for code in (codes or sorted(table)) for row in table.get(code, [])]
    chosen.sort(key=lambda row: (row[0], row[1]["SECURITY_CODE"]), reverse=query.get("sortTypes", "-1") != "1")
    size = min(_positive(query.get("pageSize"), 50), STOCK_BONUS_MAX_PAGE)
    page = _positive(query.get("pageNumber"), 1)
    pages = math.ceil(len(chosen) / size)
    if page > pages:
        return _js(EMPTY)
    data = [row for _, row in chosen[(page - 1) * size : page * size]]
    return _js(
        {
            "version": VERSION,
            "result": {"pages": pages, "data": data, "count": len(chosen)},
            "success": True,
            "message": "ok",
            "code": 0,
        }
    )


# --- helpers --------------------------------------------------------------------------------------------
def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()} 00:00:00"


def _positive(text: str | None, default: int) -> int:
    """A positive whole number from the query; the default when absent or unreadable."""
    try:
        value = int(text) if text not in (None, "") else default
    except ValueError:
        return default
    return value if value > 0 else default


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
