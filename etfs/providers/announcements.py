"""East Money's bulk tables of announced corporate actions: the terms exactly as announced.

The adjusted series bound a share conversion's ratio and a stock's sub-cent cash; these tables
state them. Two tables, two wire formats (the simulator speaks both: ``etfs/simulator/tables.py``):

- **Funds' splits and share conversions** (天天基金 基金拆分, ``fund.eastmoney.com/Data/
  funddataIndex_Interface.aspx?dt=9&page=N&rank=FSRQ&sort=desc&gs=&ftype=&year=YYYY``): a
  JavaScript body ``var pageinfo=[pages,100,page];var jjcf_data=[[code, name, date, type,
  ratio, ""],…];var jjcf_jjgs=[…];var jjcf_year=[…];``. Reference: AKShare
  ``akshare/fund/fund_fhsp_em.py::fund_cf_em`` (which reads ``pageinfo[0]`` as the page count
  and the rows as 代码, 简称, 拆分折算日, 拆分类型, 拆分折算) and the research note
  ``etf-data-sources.md`` §4 "Dividends / splits (bulk)". The ratio is units after per unit
  before (real: 159919 份额折算 1.1106808610 on 2019-01-11; 512010 份额分拆 4 on 2021-06-28).
  **Assumed, not confirmed by a real answer:** 份额合并 rows carry the ratio the same way, so
  below 1 (a 2:1 merge is 0.5); a merge above 1 or a split below 1 contradicts that reading and
  fails the answer rather than being read either way.
- **Stocks' dividends and bonus issues** (数据中心 分红送配, ``datacenter-web.eastmoney.com/api/
  data/v1/get?reportName=RPT_SHAREBONUS_DET&columns=ALL&filter=(SECURITY_CODE in (…))…``):
  JSON ``{"result": {"pages", "data": [row, …], "count"}, "success": true, "code": 0}``; no
  rows is ``{"result": null, "success": false, "message": "返回数据为空", "code": 9201}``.
  Amounts are per 10 shares: ``PRETAX_BONUS_RMB`` cash before tax, ``BONUS_IT_RATIO`` bonus
  plus capitalisation shares (``BONUS_RATIO`` + ``IT_RATIO``). Rows without
  ``EX_DIVIDEND_DATE`` are plans not implemented yet.

The JavaScript is never evaluated: the two arrays are cut out and read as JSON, numbers as
``Decimal`` (``1.1106808610`` keeps every digit). A row that cannot be read fails the answer
(``BadPayload`` naming it): a table that silently lost a conversion would let the sync trust
a ratio the table never stated. Rows that move no price are skipped by rule, documented where.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from etfs.providers.base import AnnouncedRecord
from etfs.providers.errors import BadPayload

FUND_SPLITS_PAGE_SIZE = 100  # the host's page (pageinfo[1])
STOCK_BONUS_PAGE_SIZE = 500  # the most the datacenter serves in one page
STOCK_BONUS_BATCH = 50  # codes per ``SECURITY_CODE in (…)`` filter
STOCK_BONUS_EMPTY = 9201  # the datacenter's "返回数据为空": no rows, an answer
SPLIT = "份额分拆"
CONVERSION = "份额折算"
MERGE = "份额合并"
FUND_SPLIT_TYPES = (SPLIT, CONVERSION, MERGE)
TEN = Decimal(10)
# A dividend table row: its report period (``REPORT_DATE``, which tells two payments on one day
# from one row listed twice) and its terms.
BonusRow = tuple[str, AnnouncedRecord]

_CODE = re.compile(r"\d{6}")
_PAGEINFO = re.compile(r"var\s+pageinfo\s*=\s*")
_JJCF_DATA = re.compile(r"var\s+jjcf_data\s*=\s*")
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)


def _snippet(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:160]


def _js_value(text: str, assignment: re.Pattern[str], name: str) -> Any:
    """The JSON value assigned by ``var name=…;`` in ``text``: cut out and decoded, never evaluated."""
    found = assignment.search(text)
    if found is None:
        raise BadPayload(f"no 'var {name}=' in the answer (not the split table: an error page?)")
    try:
        value, end = _DECODER.raw_decode(text, found.end())
    except json.JSONDecodeError as exc:
        raise BadPayload(f"'{name}' is not a complete JSON value ({exc.msg} at {exc.pos}): truncated?") from None
    if text[end : end + 1] != ";":
        raise BadPayload(f"'{name}' is not followed by ';' (truncated?)")
    return value


def _day(raw: Any) -> dt.date:
    """``YYYY-MM-DD``, optionally followed by `` 00:00:00``; anything else raises ``ValueError``."""
    if not isinstance(raw, str) or (len(raw) > 10 and raw[10] != " "):
        raise ValueError(f"not a date: {raw!r}")
    return dt.date.fromisoformat(raw[:10])


def parse_fund_splits_page(text: str) -> tuple[int, int, list[AnnouncedRecord]]:
    """One page of the dt=9 table: ``(total pages, this page, records)``; an empty year is
    ``(0, 1, [])``.

    Skipped by rule: a conversion at exactly 1 (no unit and no price changes). Every other row
    must have a six-digit code, a date, a known type and a positive ratio that fits its type.
    """
    pageinfo = _js_value(text, _PAGEINFO, "pageinfo")
    if (
        not isinstance(pageinfo, list)
        or len(pageinfo) < 3
        or not all(isinstance(n, Decimal) and n == int(n) and n >= 0 for n in pageinfo[:3])
    ):
        raise BadPayload(f"pageinfo is not [pages, page size, page]: {_snippet(pageinfo)}")
    pages, page = int(pageinfo[0]), int(pageinfo[2])
    rows = _js_value(text, _JJCF_DATA, "jjcf_data")
    if not isinstance(rows, list):
        raise BadPayload(f"jjcf_data is not a list: {_snippet(rows)}")
    records = [record for row in rows if (record := fund_split_record(row)) is not None]
    return pages, page, records


def fund_split_record(row: Any) -> AnnouncedRecord | None:
    """One dt=9 row ``[code, name, date, type, ratio, …]``; None for a conversion at exactly 1."""
    if not isinstance(row, list) or len(row) < 5:
        raise BadPayload(f"split table row is not [code, name, date, type, ratio, …]: {_snippet(row)}")
    code, _name, date_text, kind, ratio_text = row[:5]
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise BadPayload(f"split table row without a six-digit code: {_snippet(row)}")
    try:
        day = _day(date_text)
    except ValueError:
        raise BadPayload(f"split table row with an unreadable date: {_snippet(row)}") from None
    try:
        ratio = Decimal(str(ratio_text).strip()) if ratio_text not in (None, "") else None
    except InvalidOperation:
        ratio = None
    if ratio is None or not ratio.is_finite() or ratio <= 0:
        raise BadPayload(f"split table row without a positive ratio: {_snippet(row)}")
    if kind not in FUND_SPLIT_TYPES:
        raise BadPayload(
            f"split table row of an unknown type {kind!r} (known: {', '.join(FUND_SPLIT_TYPES)}): {_snippet(row)}"
        )
    if (kind == SPLIT and ratio < 1) or (kind == MERGE and ratio > 1):
        raise BadPayload(
            f"split table row whose ratio contradicts its type (units after per unit before): {_snippet(row)}"
        )
    if ratio == 1:
        return None  # a conversion at par changes no unit and no price
    return AnnouncedRecord(code=code, ex_date=day, split_ratio=ratio)


def parse_stock_bonus_page(text: str) -> tuple[int, list[BonusRow]]:
    """One page of RPT_SHAREBONUS_DET: ``(total pages, rows)``, one ``(REPORT_DATE, record)`` per row
    with an ex-date (not merged: see ``merge_same_day``); "返回数据为空" (code 9201) is ``(0, [])``.

    Skipped by rule: rows without ``EX_DIVIDEND_DATE`` (plans not implemented) and implemented
    rows with neither cash nor shares (no price moves).
    """
    try:
        payload = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise BadPayload(f"the dividend table's answer is not JSON ({exc})") from None
    if not isinstance(payload, dict) or "success" not in payload:
        raise BadPayload("the dividend table's answer has no 'success'")
    if payload["success"] is not True:
        if payload.get("code") == STOCK_BONUS_EMPTY:
            return 0, []
        raise BadPayload(f"the dividend table refused: code {payload.get('code')}, message {payload.get('message')!r}")
    result = payload.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("data"), list):
        raise BadPayload("the dividend table's answer has no 'result.data' list")
    pages = result.get("pages")
    if not isinstance(pages, Decimal) or pages != int(pages) or pages < 0:
        raise BadPayload(f"the dividend table's 'result.pages' is not a count: {pages!r}")
    rows = [
        (str(row.get("REPORT_DATE") or ""), record) for row in result["data"] if (record := stock_bonus_record(row))
    ]
    return int(pages), rows


def _per_ten(row: dict[str, Any], key: str) -> Decimal | None:
    raw = row.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise BadPayload(f"dividend table row with a non-number {key}: {_snippet(row)}")
    return value


def stock_bonus_record(row: Any) -> AnnouncedRecord | None:
    """One RPT_SHAREBONUS_DET row; None for a plan without an ex-date or a row moving no price."""
    if not isinstance(row, dict):
        raise BadPayload(f"dividend table row is not an object: {_snippet(row)}")
    code = row.get("SECURITY_CODE")
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise BadPayload(f"dividend table row without a six-digit SECURITY_CODE: {_snippet(row)}")
    if row.get("EX_DIVIDEND_DATE") in (None, ""):
        return None  # a plan, not implemented (yet)
    try:
        day = _day(row["EX_DIVIDEND_DATE"])
    except ValueError:
        raise BadPayload(f"dividend table row with an unreadable EX_DIVIDEND_DATE: {_snippet(row)}") from None
    cash_per_ten = _per_ten(row, "PRETAX_BONUS_RMB") or Decimal(0)
    shares_per_ten = _per_ten(row, "BONUS_IT_RATIO")
    if shares_per_ten is None:
        parts = [_per_ten(row, key) for key in ("BONUS_RATIO", "IT_RATIO")]
        shares_per_ten = sum((part for part in parts if part is not None), Decimal(0))
    if cash_per_ten < 0 or shares_per_ten <= -TEN:
        raise BadPayload(f"dividend table row with negative terms: {_snippet(row)}")
    if cash_per_ten == 0 and shares_per_ten == 0:
        return None  # implemented, but nothing paid and nothing issued: no price moves
    return AnnouncedRecord(code=code, ex_date=day, cash=cash_per_ten / TEN, split_ratio=1 + shares_per_ten / TEN)


def merge_same_day(rows: Iterable[BonusRow]) -> list[AnnouncedRecord]:
    """One record per (code, ex-date), oldest first: cash summed, bonus shares per 10 added
    (both issues count the same shares before the day; one bonus row and one cash row keep the
    bonus). Rows identical in report period and terms are one row listed twice (a page boundary
    moving while the table is read), not two payments: they count once."""
    merged: dict[tuple[str, dt.date], AnnouncedRecord] = {}
    for _report, record in dict.fromkeys(rows):
        key = (record.code, record.ex_date)
        before = merged.get(key)
        if before is None:
            merged[key] = record
            continue
        merged[key] = AnnouncedRecord(
            code=record.code,
            ex_date=record.ex_date,
            cash=before.cash + record.cash,
            split_ratio=before.split_ratio + record.split_ratio - 1,
        )
    return sorted(merged.values(), key=lambda r: (r.ex_date, r.code))


def distinct_fund_splits(records: Iterable[AnnouncedRecord]) -> list[AnnouncedRecord]:
    """The split table's records once each, oldest first; two different ratios for one fund on
    one day cannot both be true: ``BadPayload`` naming them."""
    by_key: dict[tuple[str, dt.date], AnnouncedRecord] = {}
    for record in records:
        key = (record.code, record.ex_date)
        before = by_key.setdefault(key, record)
        if before.split_ratio != record.split_ratio:
            raise BadPayload(
                f"the split table states two ratios for {record.code} on {record.ex_date}: "
                f"{before.split_ratio} and {record.split_ratio}"
            )
    return sorted(by_key.values(), key=lambda r: (r.ex_date, r.code))
