"""East Money's tables of announced terms: the parsers on real-shaped answers, and broken ones.

No answer of either table is recorded in ``shared/data/real``; the bodies below follow the shapes
AKShare reads (``fund_fhsp_em.py::fund_cf_em``; the datacenter's ``RPT_SHAREBONUS_DET`` columns),
and the terms are real facts (``data-sources.md``): 159919 converted at 1.1106808610 on
2019-01-11, 512010 split 1:4 on 2021-06-28, 513500 split 1:2 in March 2022 (dated here
2022-03-14), 浦发银行 paid 4.14 per 10 shares on 2024-07-15.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from etfs.providers.announcements import (
    merge_same_day,
    parse_fund_splits_page,
    parse_stock_bonus_page,
)
from etfs.providers.base import AnnouncedRecord
from etfs.providers.errors import BadPayload

TAIL = 'var jjcf_jjgs=[["80000222","华夏基金"]];var jjcf_year=[2022,2021,2019];'


def splits_body(rows: list, pageinfo: tuple = (1, 100, 1)) -> str:
    data = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return f"var pageinfo={json.dumps(list(pageinfo))};var jjcf_data={data};{TAIL}".replace(", ", ",")


REAL_SPLITS = [
    ["513500", "标普500ETF", "2022-03-14", "份额分拆", "2", ""],
    ["512010", "医药ETF", "2021-06-28", "份额分拆", "4", ""],
    ["159919", "沪深300ETF", "2019-01-11", "份额折算", "1.1106808610", ""],
]


def bonus_row(code: str = "600000", **fields) -> dict:
    row = {
        "SECUCODE": f"{code}.SH",
        "SECURITY_CODE": code,
        "SECURITY_NAME_ABBR": "浦发银行",
        "BONUS_IT_RATIO": None,
        "BONUS_RATIO": None,
        "IT_RATIO": None,
        "PRETAX_BONUS_RMB": 4.14,
        "EX_DIVIDEND_DATE": "2024-07-15 00:00:00",
        "EQUITY_RECORD_DATE": "2024-07-12 00:00:00",
        "REPORT_DATE": "2023-12-31 00:00:00",
        "ASSIGN_PROGRESS": "实施分配",
        "IMPL_PLAN_PROFILE": "10派4.14元(含税,扣税后3.726元)",
    }
    return {**row, **fields}


def bonus_body(rows: list[dict], pages: int = 1) -> str:
    result = {"pages": pages, "data": rows, "count": len(rows)}
    return json.dumps({"version": "a1b2", "result": result, "success": True, "message": "ok", "code": 0})


# --- fund splits (dt=9) ---------------------------------------------------------------------------
def test_fund_splits_page_reads_real_conversions_and_splits_exactly():
    pages, page, records = parse_fund_splits_page(splits_body(REAL_SPLITS, (3, 100, 1)))

    assert (pages, page) == (3, 1)
    assert records == [
        AnnouncedRecord("513500", dt.date(2022, 3, 14), split_ratio=D(2)),
        AnnouncedRecord("512010", dt.date(2021, 6, 28), split_ratio=D(4)),
        AnnouncedRecord("159919", dt.date(2019, 1, 11), split_ratio=D("1.110680861")),
    ]
    assert str(records[2].split_ratio) == "1.1106808610"  # every digit the table wrote, no float


def test_fund_splits_empty_year_is_no_records():
    body = "var pageinfo=[0,100,1];var jjcf_data=[];" + TAIL

    assert parse_fund_splits_page(body) == (0, 1, [])


def test_fund_splits_merge_keeps_its_ratio_below_one():
    (record,) = parse_fund_splits_page(splits_body([["150001", "某分级B", "2015-07-01", "份额合并", "0.5", ""]]))[2]

    assert record.split_ratio == D("0.5")


def test_fund_splits_conversion_at_par_moves_nothing_and_is_skipped():
    body = splits_body([["000001", "华夏成长", "2020-01-02", "份额折算", "1.0000000000", ""]])

    assert parse_fund_splits_page(body)[2] == []


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["159919", "沪深300ETF", "2019-13-11", "份额折算", "1.1106808610", ""], "unreadable date"),
        (["159919", "沪深300ETF", "", "份额折算", "1.1106808610", ""], "unreadable date"),
        (["159919", "沪深300ETF", "2019-01-11", "份额折算", "", ""], "positive ratio"),
        (["159919", "沪深300ETF", "2019-01-11", "份额折算", "暂未披露", ""], "positive ratio"),
        (["159919", "沪深300ETF", "2019-01-11", "份额折算", "-1.1", ""], "positive ratio"),
        (["159919", "沪深300ETF", "2019-01-11", "份额折算", "0", ""], "positive ratio"),
        (["15991", "沪深300ETF", "2019-01-11", "份额折算", "1.1", ""], "six-digit code"),
        (["159919", "沪深300ETF", "2019-01-11"], r"not \[code, name, date, type, ratio"),
        (["159919", "沪深300ETF", "2019-01-11", "份额转换", "1.1", ""], "unknown type '份额转换'"),
        (["512010", "医药ETF", "2021-06-28", "份额分拆", "0.25", ""], "contradicts its type"),
        (["150001", "某分级B", "2015-07-01", "份额合并", "2", ""], "contradicts its type"),
    ],
)
def test_fund_splits_bad_row_fails_the_answer_naming_the_row(row, message):
    with pytest.raises(BadPayload, match=message) as caught:
        parse_fund_splits_page(splits_body([REAL_SPLITS[0], row]))

    assert row[0] in str(caught.value)


def test_fund_splits_html_page_is_bad_payload():
    html = "<!DOCTYPE html><html><head><title>系统繁忙</title></head><body>请稍后再试</body></html>"

    with pytest.raises(BadPayload, match="no 'var pageinfo='"):
        parse_fund_splits_page(html)


def test_fund_splits_truncated_javascript_is_bad_payload():
    body = splits_body(REAL_SPLITS)

    with pytest.raises(BadPayload, match="jjcf_data.*truncated"):
        parse_fund_splits_page(body[: body.index("1.1106808610")])


def test_fund_splits_data_cut_before_its_semicolon_is_bad_payload():
    body = splits_body(REAL_SPLITS)

    with pytest.raises(BadPayload, match="not followed by ';'"):
        parse_fund_splits_page(body[: body.index(";var jjcf_jjgs")])


def test_fund_splits_javascript_is_never_evaluated():
    body = "var pageinfo=[1,100,1];var jjcf_data=__import__('os').system('false');" + TAIL

    with pytest.raises(BadPayload, match="jjcf_data"):
        parse_fund_splits_page(body)


# --- stock dividends and bonus issues (RPT_SHAREBONUS_DET) ----------------------------------------
def test_stock_bonus_cash_is_per_share_from_per_ten():
    pages, rows = parse_stock_bonus_page(bonus_body([bonus_row()], pages=2))

    assert pages == 2
    assert [record for _, record in rows] == [AnnouncedRecord("600000", dt.date(2024, 7, 15), cash=D("0.414"))]


def test_stock_bonus_sub_cent_cash_is_exact():
    ((_, record),) = parse_stock_bonus_page(bonus_body([bonus_row(PRETAX_BONUS_RMB=2.35)]))[1]

    assert record.cash == D("0.235")


def test_stock_bonus_shares_per_ten_are_a_split_ratio():
    row = bonus_row(BONUS_IT_RATIO=4, BONUS_RATIO=1, IT_RATIO=3, PRETAX_BONUS_RMB=1.5)

    ((_, record),) = parse_stock_bonus_page(bonus_body([row]))[1]

    assert (record.cash, record.split_ratio) == (D("0.15"), D("1.4"))


def test_stock_bonus_falls_back_to_bonus_plus_capitalisation_shares():
    row = bonus_row(BONUS_IT_RATIO=None, BONUS_RATIO=2, IT_RATIO=3, PRETAX_BONUS_RMB=None)

    ((_, record),) = parse_stock_bonus_page(bonus_body([row]))[1]

    assert (record.cash, record.split_ratio) == (D(0), D("1.5"))


def test_stock_bonus_skips_plans_without_an_ex_date():
    plan = bonus_row(EX_DIVIDEND_DATE=None, ASSIGN_PROGRESS="董事会预案", REPORT_DATE="2024-12-31 00:00:00")

    assert parse_stock_bonus_page(bonus_body([plan]))[1] == []


def test_stock_bonus_empty_answer_is_no_records():
    body = '{"version":"a1b2","result":null,"success":false,"message":"返回数据为空","code":9201}'

    assert parse_stock_bonus_page(body) == (0, [])


def test_stock_bonus_other_refusal_is_bad_payload_naming_it():
    body = '{"version":null,"result":null,"success":false,"message":"请求参数错误","code":9501}'

    with pytest.raises(BadPayload, match="code 9501.*请求参数错误"):
        parse_stock_bonus_page(body)


@pytest.mark.parametrize(
    "body",
    ["<html><body>502 Bad Gateway</body></html>", bonus_body([bonus_row()])[:80], '{"result":{"data":[]}}'],
    ids=["html", "truncated", "no-success"],
)
def test_stock_bonus_unreadable_answer_is_bad_payload(body):
    with pytest.raises(BadPayload):
        parse_stock_bonus_page(body)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"EX_DIVIDEND_DATE": "2024/07/15"}, "unreadable EX_DIVIDEND_DATE"),
        ({"PRETAX_BONUS_RMB": "四元"}, "non-number PRETAX_BONUS_RMB"),
        ({"PRETAX_BONUS_RMB": -4.14}, "negative terms"),
        ({"SECURITY_CODE": "60000"}, "six-digit SECURITY_CODE"),
    ],
)
def test_stock_bonus_bad_row_fails_the_answer_naming_it(fields, message):
    with pytest.raises(BadPayload, match=message):
        parse_stock_bonus_page(bonus_body([bonus_row(), bonus_row(**fields)]))


def test_two_payments_on_one_ex_date_merge_into_one_record():
    annual = bonus_row(PRETAX_BONUS_RMB=3.2)
    special = bonus_row(PRETAX_BONUS_RMB=1.05, BONUS_IT_RATIO=3, REPORT_DATE="2024-03-31 00:00:00")

    merged = merge_same_day(parse_stock_bonus_page(bonus_body([annual, special]))[1])

    assert merged == [AnnouncedRecord("600000", dt.date(2024, 7, 15), cash=D("0.425"), split_ratio=D("1.3"))]


def test_one_row_listed_twice_counts_once():
    rows = parse_stock_bonus_page(bonus_body([bonus_row(), bonus_row()]))[1]

    assert merge_same_day(rows) == [AnnouncedRecord("600000", dt.date(2024, 7, 15), cash=D("0.414"))]
