"""ETFs as funds in the admin and on the landing page: charts, facts curation, filters, movers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.urls import reverse

from etfs.fund_charts import load_fund_chart_data, render_nav_chart, render_shares_chart
from etfs.funds import FundProfile
from etfs.tests.factories import (
    DailyBarFactory,
    FundNavFactory,
    FundProfileFactory,
    FundSharesFactory,
    InstrumentFactory,
    StockFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:etfs_instrument_changelist")
DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def make_fund(code: str, closes: list[str], navs: list[str], shares: list[int], **facts) -> object:
    instrument = InstrumentFactory(code=code)
    FundProfileFactory(instrument=instrument, **facts)
    for day, close, nav, count in zip(DAYS, closes, navs, shares, strict=True):
        DailyBarFactory(instrument=instrument, day=day, close=D(close), low=D("0.500"), high=D("9.000"))
        FundNavFactory(instrument=instrument, day=day, unit_nav=D(nav))
        FundSharesFactory(instrument=instrument, day=day, shares=count)
    return instrument


def test_etf_page_charts_close_against_nav_and_shares(admin_client):
    etf = make_fund("510300", ["3.500", "3.520"], ["3.4900", "3.5300"], [100_000, 200_000])

    html = admin_client.get(reverse("admin:etfs_instrument_change", args=[etf.pk])).content.decode()

    assert 'class="nav-chart"' in html and 'class="chart-nav"' in html and 'class="chart-premium"' in html
    assert 'class="shares-chart"' in html and 'class="chart-aum"' in html
    assert "/api/etfs/510300.SH/nav/" in html


def test_nav_chart_marks_discount_days_green():
    etf = make_fund("510300", ["3.500", "3.520"], ["3.4900", "3.5300"], [100_000, 200_000])

    svg = render_nav_chart(load_fund_chart_data(etf, range_key="ALL"))

    assert 'class="chart-premium"' in svg and 'class="chart-discount"' in svg
    assert 'data-points="2"' in svg


def test_charts_of_a_fund_without_data_say_so():
    etf = InstrumentFactory(code="510300")

    data = load_fund_chart_data(etf)

    assert "No NAV stored" in render_nav_chart(data) and "No shares stored" in render_shares_chart(data)


def test_stock_page_has_no_fund_charts(admin_client):
    stock = StockFactory(code="600000")

    html = admin_client.get(reverse("admin:etfs_instrument_change", args=[stock.pk])).content.decode()

    assert "nav-chart" not in html and "fund facts" not in html


def test_editing_a_fact_locks_it(admin_client):
    etf = make_fund("510300", ["3.500", "3.520"], ["3.4900", "3.5300"], [100_000, 200_000])
    profile = etf.fund
    url = reverse("admin:etfs_instrument_change", args=[etf.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and key != "locked_fields"}
    data.update(
        {
            "locked_fields": "[]",
            "list_date": "",
            "delist_date": "",
            "fund-TOTAL_FORMS": "1",
            "fund-INITIAL_FORMS": "1",
            "fund-MIN_NUM_FORMS": "0",
            "fund-MAX_NUM_FORMS": "1",
            "fund-0-id": str(profile.pk),
            "fund-0-instrument": str(etf.pk),
            "fund-0-category": "equity",
            "fund-0-tracking_index_code": "000300",
            "fund-0-tracking_index_name": "沪深300指数",
            "fund-0-fund_company": "手工基金",
            "fund-0-custodian": "中国工商银行",
            "fund-0-inception_date": "2012-05-04",
            "fund-0-management_fee": "0.15",
            "fund-0-custody_fee": "0.05",
            "fund-0-locked_fields": "[]",
            "initial-fund-0-locked_fields": "[]",  # the hidden initial Django adds for callable defaults
            "initial-locked_fields": "[]",
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    profile = FundProfile.objects.get(pk=profile.pk)
    assert (profile.fund_company, profile.locked_fields) == ("手工基金", ["fund_company"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [("category=gold", ["518880.SH"]), ("fund_company=华安", ["518880.SH"]), ("tracking_index=000300", ["510300.SH"])],
)
def test_changelist_filters_by_fund_facts(admin_client, query, expected):
    make_fund("510300", ["3.500", "3.520"], ["3.4900", "3.5300"], [100_000, 200_000])
    make_fund(
        "518880",
        ["5.500", "5.520"],
        ["5.5000", "5.5000"],
        [100_000, 100_000],
        category="gold",
        fund_company="华安基金",
        tracking_index_code="AU9999",
    )

    response = admin_client.get(f"{CHANGELIST}?{query}")

    assert [obj.symbol for obj in response.context["cl"].result_list] == expected


def test_landing_lists_widest_premiums_and_largest_flows_of_the_last_day(client):
    make_fund("510300", ["3.500", "3.600"], ["3.5000", "3.5000"], [100_000, 100_000])  # +2.86 %, no flow
    make_fund("510500", ["5.000", "5.000"], ["5.0000", "5.0100"], [100_000, 300_000])  # -0.20 %, +1,002,000

    summary = client.get("/").context["summary"]

    assert summary.premium_date == DAYS[-1]
    assert [(m.symbol, m.percent) for m in summary.widest_premiums] == [
        ("510300.SH", D("2.86")),
        ("510500.SH", D("-0.20")),
    ]
    assert [(m.symbol, m.value) for m in summary.largest_flows] == [
        ("510500.SH", D("1002000.00")),
        ("510300.SH", D("0.00")),
    ]


def test_sync_run_page_shows_the_universe_differences(admin_client):
    run = SyncRunFactory(
        status="success",
        fund_report={"universe": {"counts": {"eastmoney": 2}, "only_exchange": ["159934.SZ"], "only_eastmoney": []}},
    )

    html = admin_client.get(reverse("admin:etfs_syncrun_change", args=[run.pk])).content.decode()

    assert "Only on the exchanges&#x27; lists" in html and "159934.SZ" in html
