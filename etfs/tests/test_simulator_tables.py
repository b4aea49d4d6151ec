"""The simulator's tables of announced terms: rows are the simulated market's actions, in the wire
formats of East Money's fund split table (dt=9) and datacenter dividend table (RPT_SHAREBONUS_DET)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal as D

import pytest
import requests

from etfs.simulator.market import ScheduledAction, SimConfig
from etfs.simulator.server import run_simulator
from etfs.simulator.tables import CONVERSION, MERGE, SPLIT, split_type

TODAY = dt.date(2024, 6, 28)
LATER = dt.date(2024, 7, 10)  # after today, inside the generated horizon
SCHEDULED = (
    ScheduledAction("159919", dt.date(2024, 1, 11), split_ratio=D("1.110680861"), trades=False),
    ScheduledAction("512010", dt.date(2024, 3, 14), split_ratio=D(4)),
    ScheduledAction("510300", dt.date(2023, 9, 14), split_ratio=D("0.5")),
    ScheduledAction("159915", LATER, split_ratio=D(2)),
    ScheduledAction("000002", dt.date(2024, 5, 16), cash_share=D("0.03"), split_ratio=D("1.3")),
    ScheduledAction("600036", LATER, cash_share=D("0.02")),  # a plan on today: terms, no ex-date yet
)
CONFIG = {"n_etfs": 6, "n_stocks": 4, "years": 1, "today": TODAY, "seed": 3, "scheduled": SCHEDULED}
SHARE_BONUS = {"reportName": "RPT_SHAREBONUS_DET", "columns": "ALL", "source": "WEB", "client": "WEB"}


@pytest.fixture(scope="module")
def sim():
    with run_simulator(SimConfig(**CONFIG, table_filler=False)) as running:
        yield running


@pytest.fixture(scope="module")
def filled():
    with run_simulator(SimConfig(**CONFIG)) as running:
        yield running


def split_page(sim, year="", page=1) -> tuple[list, list]:
    text = requests.get(sim.fund_splits_url, params={"dt": 9, "page": page, "year": year}, timeout=5).text
    pageinfo = json.loads(re.search(r"var pageinfo=(\[.*?\]);", text).group(1))
    rows = json.loads(re.search(r"var jjcf_data=(\[.*?\]);var jjcf_jjgs=", text).group(1))
    return pageinfo, rows


def bonus(sim, **params) -> dict:
    return requests.get(sim.stock_bonus_url, params={**SHARE_BONUS, **params}, timeout=5).json()


def etf_splits(sim) -> set[tuple[str, str, D]]:
    return {
        (inst.symbol.code, action.ex_date.isoformat(), action.split_ratio)
        for inst in sim.market.instruments()
        if inst.is_etf
        for action in inst.actions
        if action.split_ratio != 1
    }


def test_split_table_rows_are_the_etfs_actions_with_a_ratio(sim):
    _, rows = split_page(sim)

    assert {(row[0], row[2], D(row[4])) for row in rows} == etf_splits(sim)
    assert ("159919", "2024-01-11", D("1.110680861")) in etf_splits(sim)


def test_split_table_types_and_writes_ratios_as_the_real_table_does(sim):
    _, rows = split_page(sim, year=2024)

    by_code = {row[0]: row for row in rows}
    assert by_code["159919"][3:5] == [CONVERSION, "1.1106808610"]
    assert by_code["512010"][3:5] == [SPLIT, "4"]
    assert [row[3:5] for row in split_page(sim, year=2023)[1] if row[0] == "510300"] == [[MERGE, "0.5"]]


@pytest.mark.parametrize(
    ("ratio", "kind"),
    [
        (D(2), SPLIT),
        (D(10), SPLIT),
        (D("0.5"), MERGE),
        (D("0.2"), MERGE),
        (D("1.5"), CONVERSION),
        (D("0.38"), CONVERSION),
    ],
)
def test_split_type_follows_the_ratio(ratio, kind):
    assert split_type(ratio) == kind


def test_conversion_row_is_dated_on_its_day_without_a_bar(sim):
    _, rows = split_page(sim, year=2024)

    (row,) = [row for row in rows if row[0] == "159919" and row[3] == CONVERSION and row[2] == "2024-01-11"]
    assert dt.date(2024, 1, 11) not in {bar.day for bar in sim.market.bars("159919.SZ")}


def test_split_table_lists_nothing_after_today_until_the_day_comes():
    with run_simulator(SimConfig(**CONFIG, table_filler=False)) as moving:
        assert not [row for row in split_page(moving, year=2024)[1] if row[2] == LATER.isoformat()]

        moving.set_today(LATER)

        assert [["159915", LATER.isoformat(), SPLIT, "2"]] == [
            [row[0], row[2], row[3], row[4]] for row in split_page(moving, year=2024)[1] if row[2] == LATER.isoformat()
        ]


def test_split_table_filler_pages_the_year_and_uses_no_simulated_code(filled):
    pageinfo, first = split_page(filled, year=2023)
    pages, size, page = pageinfo
    rows = first + [row for n in range(2, pages + 1) for row in split_page(filled, year=2023, page=n)[1]]

    assert (size, page) == (100, 1) and pages == math.ceil(len(rows) / 100) >= 2
    assert len(first) == 100
    ours = {(row[0], row[2], D(row[4])) for row in rows if row[0] in filled.market.codes()}
    assert ours == {split for split in etf_splits(filled) if split[1].startswith("2023")}
    assert len(rows) - len(ours) > 100  # funds the simulator does not list: filter by code
    assert all(row[2] <= TODAY.isoformat() for row in rows)
    assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)


def test_split_table_filler_is_the_same_every_time(filled):
    with run_simulator(SimConfig(**CONFIG)) as again:
        assert split_page(again, year=2022) == split_page(filled, year=2022)


def test_split_table_empty_year(sim):
    text = requests.get(sim.fund_splits_url, params={"dt": 9, "page": 1, "year": 2010}, timeout=5).text

    assert text.startswith("var pageinfo=[0,100,1];var jjcf_data=[];")


def test_split_table_is_dt_9_only(sim):
    assert requests.get(sim.fund_splits_url, params={"dt": 8, "year": 2024}, timeout=5).status_code == 404


def stock_actions(sim) -> dict[tuple[str, str], tuple]:
    return {
        (inst.symbol.code, f"{action.ex_date} 00:00:00"): (action.cash, action.split_ratio)
        for inst in sim.market.instruments()
        if not inst.is_etf
        for action in inst.actions
    }


def test_dividend_table_rows_are_the_stocks_actions_per_ten_shares(sim):
    truth = stock_actions(sim)
    codes = sorted({code for code, _ in truth})
    quoted = ",".join(f'"{code}"' for code in codes)

    answer = bonus(sim, filter=f"(SECURITY_CODE in ({quoted}))", pageSize=500)

    rows = [row for row in answer["result"]["data"] if row["EX_DIVIDEND_DATE"] is not None]
    assert (answer["success"], answer["code"], len(rows)) == (True, 0, len(truth))
    got = {
        (row["SECURITY_CODE"], row["EX_DIVIDEND_DATE"]): (
            D(str(row["PRETAX_BONUS_RMB"] or 0)) / 10,
            1 + D(str(row["BONUS_IT_RATIO"] or 0)) / 10,
        )
        for row in rows
    }
    assert got == truth
    assert ("000002", "2024-05-16 00:00:00") in got and got["000002", "2024-05-16 00:00:00"][1] == D("1.3")


def test_dividend_table_lists_a_coming_action_as_a_plan_without_dates(sim):
    rows = bonus(sim, filter='(SECURITY_CODE="600036")', pageSize=500)["result"]["data"]

    (plan,) = [row for row in rows if row["EX_DIVIDEND_DATE"] is None]
    assert rows[0] == plan  # nulls first, newest first
    assert plan["EQUITY_RECORD_DATE"] is None and plan["ASSIGN_PROGRESS"] != "实施分配"
    assert plan["PRETAX_BONUS_RMB"] > 0
    assert LATER not in {a.ex_date for a in sim.market.instrument("600036.SH").actions}


def test_dividend_table_plan_becomes_implemented_on_its_day():
    with run_simulator(SimConfig(**CONFIG, table_filler=False)) as moving:
        moving.set_today(LATER)

        rows = bonus(moving, filter='(SECURITY_CODE="600036")', pageSize=500)["result"]["data"]

        assert rows[0]["EX_DIVIDEND_DATE"] == f"{LATER} 00:00:00" and rows[0]["ASSIGN_PROGRESS"] == "实施分配"
        assert all(row["EX_DIVIDEND_DATE"] for row in rows)


def test_dividend_table_writes_null_where_there_is_nothing(sim):
    rows = bonus(sim, filter='(SECURITY_CODE="000002")', pageSize=500)["result"]["data"]

    cash_only = [row for row in rows if row["BONUS_IT_RATIO"] is None]
    assert cash_only and all(row["IT_RATIO"] is None and row["PRETAX_BONUS_RMB"] > 0 for row in cash_only)
    assert all(row["SECUCODE"] == "000002.SZ" and row["ASSIGN_PROGRESS"] == "实施分配" for row in rows)


def test_dividend_table_pages_at_the_asked_size_newest_first(sim):
    first = bonus(sim, pageSize=3, pageNumber=1)["result"]
    pages = [bonus(sim, pageSize=3, pageNumber=n)["result"]["data"] for n in range(2, first["pages"] + 1)]
    rows = first["data"] + [row for page in pages for row in page]

    assert first["pages"] == math.ceil(first["count"] / 3) >= 2 and len(rows) == first["count"]
    days = [row["EX_DIVIDEND_DATE"] or "9999" for row in rows]  # plans (no ex-date) first
    assert days == sorted(days, reverse=True)


def test_dividend_table_page_size_stops_at_500(sim):
    assert bonus(sim, pageSize=100_000)["result"]["pages"] == 1


def test_dividend_table_has_no_etfs(sim):
    assert bonus(sim, filter='(SECURITY_CODE in ("510300","159919"))') == {
        "version": bonus(sim, filter='(SECURITY_CODE="510300")')["version"],
        "result": None,
        "success": False,
        "message": "返回数据为空",
        "code": 9201,
    }


@pytest.mark.parametrize("bad", ['(SECURITY_CODE like "000%")', "(SECURITY_CODE in (000002))", "garbage"])
def test_dividend_table_refuses_an_unreadable_filter_as_the_host_does(sim, bad):
    answer = bonus(sim, filter=bad)

    assert answer["success"] is False and answer["code"] not in (0, 9201) and answer["result"] is None


@pytest.mark.parametrize(
    ("source", "url"),
    [("eastmoney_fund_splits", "fund_splits_url"), ("eastmoney_datacenter", "stock_bonus_url")],
)
def test_table_outage_answers_503_and_is_logged(source, url):
    with run_simulator(SimConfig(n_etfs=2, n_stocks=1, years=1, today=TODAY)) as down:
        down.config.outages.add(source)

        response = requests.get(getattr(down, url), params={"dt": 9, **SHARE_BONUS}, timeout=5)

        assert response.status_code == 503
        (entry,) = down.requests()
        assert (entry.status, entry.path) == (503, getattr(down, url).removeprefix(down.base_url))
