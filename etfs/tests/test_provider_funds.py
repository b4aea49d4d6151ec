"""The fund hosts' parsers and the provider against the simulator: units, dates, blocked shapes.

No real fund-host payload was recorded in ``shared/data/real`` (NAV, shares and fund lists
were never fetched there), so the samples below are written in the shapes the research note
quotes from AKShare's source and third-party fixtures (``etf-data-sources.md`` §1, §3, §4).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
import requests
from openpyxl import Workbook

from etfs.funds import FundCategory, category_from_type, t0_for
from etfs.providers.errors import BadPayload, ProviderError
from etfs.providers.funds import (
    FundDataProvider,
    parse_nav_history,
    parse_nav_latest,
    parse_profile,
    parse_sse_page,
    parse_sse_shares,
    parse_szse_funds,
    parse_szse_shares,
)
from etfs.providers.http import ClientOptions
from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator
from etfs.symbols import Symbol

# 2024-01-02 00:00 in Beijing is 2024-01-01 16:00 UTC.
BEIJING_MIDNIGHT_MS = 1704124800000


def xlsx(header: list[str], rows: list[list]) -> bytes:
    book = Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_nav_history_dates_are_beijing_dates():
    text = (
        'var fS_code = "510300";var Data_netWorthTrend = [{"x":1704124800000,"y":3.4761,"equityReturn":0.1,'
        '"unitMoney":""}];/*累计净值走势*/var Data_ACWorthTrend = [[1704124800000,1.8761]];'
    )

    (record,) = parse_nav_history(text)

    assert (record.day, record.unit_nav, record.accumulated_nav) == (dt.date(2024, 1, 2), D("3.4761"), D("1.8761"))


def test_nav_history_keeps_a_missing_accumulated_nav_empty():
    text = 'var Data_netWorthTrend = [{"x":1704124800000,"y":1.0}];var Data_ACWorthTrend = [[1704124800000,null]];'

    assert parse_nav_history(text)[0].accumulated_nav is None


def test_nav_history_without_the_series_is_a_bad_payload():
    with pytest.raises(BadPayload):
        parse_nav_history("<html>系统繁忙</html>")


def test_latest_navs_read_fields_by_position():
    row = ",".join(
        ["510300", "沪深300ETF", "HS300ETF", "2024-06-28", "3.5432", "1.6543"]
        + ["0.12", "1.05", "", "-2.31", "5.40", "", "", "3.10", "25.61"]
        + ["2012-05-04", "1", "", "", "", "", "ETF-场内", ""]
    )
    text = f'var rankData = {{datas:["{row}"],allRecords:1,pageIndex:1,pageNum:30000,allPages:1}};'

    total, (nav,) = parse_nav_latest(text)

    assert total == 1
    assert (nav.code, nav.day, nav.unit_nav, nav.accumulated_nav, nav.inception) == (
        "510300",
        dt.date(2024, 6, 28),
        D("3.5432"),
        D("1.6543"),
        dt.date(2012, 5, 4),
    )


def test_latest_navs_skip_a_fund_without_a_published_nav():
    row = "159999,新ETF,XETF,,,,,,,,,,,,,2026-11-01,1,,,,,ETF-场内,"

    assert parse_nav_latest(f'var rankData = {{datas:["{row}"],allRecords:1}};') == (1, [])


def test_profile_facts_by_key():
    html = (
        "<table><tr><th>x</th></tr></table><table class='info w790'>"
        "<tr><th>基金类型</th><td>指数型-股票</td><th>成立日期/规模</th><td>2012年05月04日 / 287.567亿份</td></tr>"
        "<tr><th>基金管理人</th><td><a href='#'>华泰柏瑞基金</a></td>"
        "<th>基金托管人</th><td><a>中国工商银行</a></td></tr>"
        "<tr><th>管理费率</th><td>0.15%（每年）</td><th>托管费率</th><td>0.05%（每年）</td></tr>"
        "<tr><th>业绩比较基准</th><td>沪深300指数收益率</td><th>跟踪标的</th><td>沪深300指数</td></tr></table>"
    )

    facts = parse_profile(html, "510300")

    assert (facts.company, facts.custodian, facts.inception) == ("华泰柏瑞基金", "中国工商银行", dt.date(2012, 5, 4))
    assert (facts.management_fee, facts.custody_fee, facts.tracking_index_name) == (D("0.15"), D("0.05"), "沪深300指数")


def test_profile_of_a_fund_without_index_has_no_index_name():
    html = "<table><tr><th>基金类型</th><td>货币型-普通货币</td><th>跟踪标的</th><td>该基金无跟踪标的</td></tr></table>"

    assert parse_profile(html, "511880").tracking_index_name == ""


def test_sse_shares_are_converted_from_ten_thousands():
    _, rows = parse_sse_page(
        'jsonpCallback1({"result":[{"SEC_CODE":"510300","STAT_DATE":"2025-01-15","TOT_VOL":"2876543.21"}],'
        '"pageHelp":{"pageCount":1}})'
    )

    (record,) = parse_sse_shares(rows)

    assert (record.symbol, record.day, record.shares) == (Symbol("510300", "SH"), dt.date(2025, 1, 15), 28765432100)


def test_szse_shares_accept_numeric_codes_and_thousands_separators():
    content = xlsx(
        ["日期", "基金代码", "基金简称", "基金规模(份)"], [["2026-04-01", 159919, "300ETF", "1,234,567,800"]]
    )

    (record,) = parse_szse_shares(content)

    assert (record.symbol, record.day, record.shares) == (Symbol("159919", "SZ"), dt.date(2026, 4, 1), 1234567800)


def test_szse_fund_list_keeps_etfs_only():
    header = ["基金代码", "基金简称", "基金类别", "投资类别", "上市日期", "当前规模(份)", "基金管理人"]
    content = xlsx(
        header,
        [
            ["159919", "300ETF", "ETF", "股票基金", "2012-05-28", "1", "嘉实基金"],
            ["161005", "LOF", "LOF", "", "", "", ""],
        ],
    )

    (fund,) = parse_szse_funds(content)

    assert (fund.symbol, fund.list_date, fund.company) == (Symbol("159919", "SZ"), dt.date(2012, 5, 28), "嘉实基金")


def test_an_html_page_instead_of_a_spreadsheet_is_a_bad_payload():
    with pytest.raises(BadPayload):
        parse_szse_shares(b"<html>busy</html>")


@pytest.mark.parametrize(
    ("fund_type", "name", "category"),
    [
        ("指数型-股票", "沪深300ETF", FundCategory.EQUITY),
        ("指数型-固收", "国债ETF", FundCategory.BOND),
        ("商品（不含QDII）", "黄金ETF", FundCategory.GOLD),
        ("商品（不含QDII）", "豆粕ETF", FundCategory.COMMODITY),
        ("QDII-普通股票", "纳指ETF", FundCategory.CROSS_BORDER),
        ("指数型-海外股票", "恒生ETF", FundCategory.CROSS_BORDER),
        ("货币型-普通货币", "银华日利", FundCategory.MONEY_MARKET),
    ],
)
def test_category_from_east_moneys_fund_type(fund_type, name, category):
    assert category_from_type(fund_type, name) == category


def test_only_equity_etfs_trade_t_plus_one():
    assert [c for c in FundCategory if not t0_for(c)] == [FundCategory.EQUITY]


@pytest.fixture
def sim_provider():
    config = SimConfig(n_etfs=4, n_stocks=0, years=1, today=dt.date(2024, 6, 28), exchange_only_etfs=2)
    with run_simulator(config) as sim:
        provider = FundDataProvider(ClientOptions(rate_limit=0, max_attempts=2, backoff_base=0.001), sim.fund_urls())
        yield sim, provider
        provider.close()


def test_a_szse_window_longer_than_six_months_is_refused_before_any_request(sim_provider):
    sim, provider = sim_provider

    with pytest.raises(ValueError, match="six months"):
        provider.szse_shares(dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    assert sim.requests() == []


def test_sse_shares_of_a_non_trading_day_are_empty(sim_provider):
    _, provider = sim_provider

    assert provider.sse_shares(dt.date(2024, 6, 29)) == []  # a Saturday


def test_the_simulated_szse_answers_a_window_over_six_months_with_the_header_only(sim_provider):
    sim, provider = sim_provider
    url = sim.fund_urls()["SZSE_SHARES_URL"]

    params = {"CATALOGID": "scsj_fund_jjgm", "txtStart": "2023-07-01", "txtEnd": "2024-02-01", "jjlb": "ETF"}
    body = requests.get(url, params=params, timeout=5).content

    assert parse_szse_shares(body) == []


def test_an_outage_is_a_provider_error_naming_the_host(sim_provider):
    sim, provider = sim_provider
    sim.config.outages = {"sse"}

    with pytest.raises(ProviderError, match="503"):
        provider.sse_funds()


def test_the_exchange_lists_carry_the_etfs_east_money_misses(sim_provider):
    sim, provider = sim_provider

    listed = {f.symbol for f in provider.sse_funds() + provider.szse_funds()}

    hidden = {i.symbol for i in sim.funds.listed_etfs() if not any(t.startswith("b:") for t in i.tags)}
    assert hidden and hidden <= listed
