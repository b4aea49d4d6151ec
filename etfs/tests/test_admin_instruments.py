"""Instrument admin: list columns without N+1, filters, search, curation actions, change page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from etfs.calendar import trading_days
from etfs.models import AssetType, Instrument, SyncRun
from etfs.tests.factories import InstrumentFactory, StockFactory, SyncRunFactory, make_bars
from prices.models import CorporateAction

CHANGELIST = reverse("admin:etfs_instrument_changelist")

pytestmark = pytest.mark.django_db


def change_url(instrument) -> str:
    return reverse("admin:etfs_instrument_change", args=[instrument.pk])


def listed_symbols(response) -> list[str]:
    return [obj.symbol for obj in response.context["cl"].result_list]


def run_action(client, action, instruments, **extra):
    data = {"action": action, "_selected_action": [i.pk for i in instruments], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_list_shows_last_bar_date_and_bar_count(admin_client):
    etf = InstrumentFactory(code="510300", name="沪深300ＥＴＦ")
    make_bars(etf, trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 12)))

    response = admin_client.get(CHANGELIST)

    row = response.context["cl"].result_list[0]
    admin_obj = response.context["cl"].model_admin
    assert admin_obj.last_bar_date(row) == dt.date(2024, 1, 12)
    assert admin_obj.bar_count(row) == 9
    assert "沪深300ＥＴＦ" in response.content.decode()


def test_instrument_without_bars_lists_zero_bars_and_no_date(admin_client):
    InstrumentFactory(code="510500")

    response = admin_client.get(CHANGELIST)

    row = response.context["cl"].result_list[0]
    admin_obj = response.context["cl"].model_admin
    assert (admin_obj.last_bar_date(row), admin_obj.bar_count(row)) == (None, 0)


def count_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    return len(queries)


def test_list_query_count_does_not_grow_with_rows(admin_client):
    days = trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 5))
    make_bars(InstrumentFactory(), days)
    few = count_list_queries(admin_client)

    for _ in range(12):
        make_bars(InstrumentFactory(), days)
    many = count_list_queries(admin_client)

    assert many == few
    # session + user + filtered count + full count + the page's rows (bar columns are subqueries)
    assert many <= 6


def test_filter_to_etfs(admin_client):
    InstrumentFactory(code="510300")
    StockFactory(code="600519")

    response = admin_client.get(CHANGELIST, {"is_etf__exact": "1"})

    assert listed_symbols(response) == ["510300.SH"]


def test_filter_by_exchange(admin_client):
    InstrumentFactory(code="510300", exchange="SH")
    InstrumentFactory(code="159915", exchange="SZ")

    response = admin_client.get(CHANGELIST, {"exchange__exact": "SZ"})

    assert listed_symbols(response) == ["159915.SZ"]


def test_search_by_name(admin_client):
    InstrumentFactory(code="510300", name="沪深300ＥＴＦ")
    InstrumentFactory(code="510500", name="中证500ＥＴＦ")

    response = admin_client.get(CHANGELIST, {"q": "中证500"})

    assert listed_symbols(response) == ["510500.SH"]


def test_search_by_prefixed_symbol(admin_client):
    InstrumentFactory(code="510300")
    InstrumentFactory(code="159915", exchange="SZ")

    response = admin_client.get(CHANGELIST, {"q": "sz159915"})

    assert listed_symbols(response) == ["159915.SZ"]


def test_mark_as_etf_sets_type_and_locks_the_flag(admin_client):
    lof = StockFactory(code="501018", is_etf=False, asset_type=AssetType.LOF)

    run_action(admin_client, "mark_as_etf", [lof])

    lof.refresh_from_db()
    assert (lof.is_etf, lof.asset_type) == (True, AssetType.ETF)
    assert {"is_etf", "asset_type"} <= set(lof.locked_fields)


def test_mark_as_not_etf_clears_the_flag_and_locks_it(admin_client):
    etf = InstrumentFactory(code="510300", locked_fields=["name"])

    run_action(admin_client, "mark_as_not_etf", [etf])

    etf.refresh_from_db()
    assert (etf.is_etf, etf.asset_type) == (False, AssetType.STOCK)
    assert etf.locked_fields == ["asset_type", "is_etf", "name"]


def test_locked_flag_survives_the_sync(admin_client):
    etf = InstrumentFactory(code="510300")
    run_action(admin_client, "mark_as_not_etf", [etf])
    etf.refresh_from_db()

    changed = etf.apply_provider_values({"is_etf": True, "asset_type": AssetType.ETF, "name": "沪深300ＥＴＦ"})

    assert changed == ["name"]
    assert etf.is_etf is False


def test_deactivate_deactivates_only_the_selected(admin_client):
    chosen, other = InstrumentFactory(code="510300"), InstrumentFactory(code="510500")

    run_action(admin_client, "deactivate", [chosen])

    assert Instrument.objects.get(pk=chosen.pk).is_active is False
    assert Instrument.objects.get(pk=chosen.pk).locked_fields == ["is_active"]
    assert Instrument.objects.get(pk=other.pk).is_active is True


def test_editing_a_curatable_field_locks_it(admin_client):
    etf = InstrumentFactory(code="510300", name="old name")
    form = {
        "name": "沪深300ＥＴＦ",
        "is_etf": "on",
        "asset_type": "etf",
        "is_active": "on",
        "list_date": "",
        "delist_date": "",
        "price_decimals": "3",
        "locked_fields": "[]",
        "initial-locked_fields": "[]",  # the hidden initial Django adds for callable defaults
    }

    response = admin_client.post(change_url(etf), form)

    assert response.status_code == 302
    etf.refresh_from_db()
    assert etf.name == "沪深300ＥＴＦ"
    assert etf.locked_fields == ["name"]


class EnqueueRecorder:
    """Stands in for ``etfs.tasks.enqueue_sync``: records each call's kind, the options it
    stores (``to_json``), trigger and user; returns a queued run."""

    def __init__(self):
        self.calls = []

    def __call__(self, options, **kwargs):
        self.calls.append((options.kind, {**options.to_json(), **kwargs}))
        return SyncRunFactory(kind=options.kind, status=SyncRun.Status.QUEUED, trigger=kwargs["trigger"])


def test_sync_prices_now_enqueues_one_run_per_kind(admin_client, monkeypatch):
    recorder = EnqueueRecorder()
    monkeypatch.setattr("etfs.admin.enqueue_sync", recorder)
    etfs = [InstrumentFactory(code="510300"), InstrumentFactory(code="510500")]
    stock = StockFactory(code="600519")

    response = run_action(admin_client, "sync_prices_now", [*etfs, stock])

    assert sorted(recorder.calls, key=lambda call: call[0]) == [
        ("etfs", {"symbols": ["510300.SH", "510500.SH"], "trigger": "admin", "triggered_by": "admin"}),
        ("stocks", {"symbols": ["600519.SH"], "trigger": "admin", "triggered_by": "admin"}),
    ]
    messages = [str(m) for m in response.context["messages"]]
    assert any("ETFs sync #" in m and "2 instrument(s): queued" in m for m in messages)


def test_sync_prices_now_skips_instruments_no_sync_covers(admin_client, monkeypatch):
    recorder = EnqueueRecorder()
    monkeypatch.setattr("etfs.admin.enqueue_sync", recorder)
    reit = StockFactory(code="508000", asset_type=AssetType.REIT)

    response = run_action(admin_client, "sync_prices_now", [reit])

    assert recorder.calls == []
    assert "Not synced (neither ETF nor stock, no sync covers them): 508000.SH" in [
        str(m) for m in response.context["messages"]
    ]


def test_change_page_draws_the_chart_and_recent_bars(admin_client):
    etf = InstrumentFactory(code="510300")
    days = trading_days(dt.date(2024, 1, 2), dt.date(2024, 3, 29))
    make_bars(etf, days)

    response = admin_client.get(change_url(etf))

    html = response.content.decode()
    assert response.context["chart_series"].points[-1].day == dt.date(2024, 3, 29)
    assert len(response.context["chart_series"].points) == len(days)
    assert '<svg class="price-chart"' in html
    assert [bar.trading_date for bar in response.context["recent_bars"]][:2] == [
        dt.date(2024, 3, 29),
        dt.date(2024, 3, 28),
    ]
    assert len(response.context["recent_bars"]) == 10


def test_change_page_links_to_the_instruments_api(admin_client):
    etf = InstrumentFactory(code="510300")

    html = admin_client.get(change_url(etf)).content.decode()

    assert 'href="/api/instruments/510300.SH/"' in html
    assert 'href="/api/instruments/510300.SH/bars/"' in html


def test_change_page_range_and_adjust_come_from_the_query(admin_client):
    etf = InstrumentFactory(code="510300")
    make_bars(etf, [dt.date(2024, 1, 2), dt.date(2024, 1, 3)], close=Decimal("4.000"))
    CorporateAction.objects.create(instrument=etf, ex_date=dt.date(2024, 1, 3), cash=Decimal("0.5"))

    response = admin_client.get(change_url(etf), {"range": "5Y", "adjust": "qfq"})

    series = response.context["chart_series"]
    assert (series.range_key, series.adjust) == ("5Y", "qfq")
    assert [p.close for p in series.points] == [Decimal("3.500"), Decimal("4.000")]
    selected = re.findall(r'class="chart-(?:range|adjust) selected" data-\w+="(\w+)"', response.content.decode())
    assert selected == ["5Y", "qfq"]


def test_sync_prices_now_records_a_queued_admin_run(admin_client, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}  # queue it; no worker runs here
    etf = InstrumentFactory(code="510300")

    run_action(admin_client, "sync_prices_now", [etf])

    run = SyncRun.objects.get()
    assert (run.kind, run.status, run.trigger, run.triggered_by) == ("etfs", "queued", "admin", "admin")
    assert run.parameters["symbols"] == ["510300.SH"]


def test_curator_can_add_an_instrument_by_code_and_exchange(admin_client):
    form = {
        "code": "159915",
        "exchange": "SZ",
        "name": "创业板ＥＴＦ",
        "is_etf": "on",
        "asset_type": "etf",
        "is_active": "on",
        "price_decimals": "3",
        "locked_fields": "[]",
        "initial-locked_fields": "[]",
    }

    response = admin_client.post(reverse("admin:etfs_instrument_add"), form)

    assert response.status_code == 302
    added = Instrument.objects.get()
    assert (added.symbol, added.name, added.is_etf) == ("159915.SZ", "创业板ＥＴＦ", True)
