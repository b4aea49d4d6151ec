"""Bar and corporate-action admin: read-only, filtered by instrument and dates, no full-table counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from etfs.calendar import trading_days
from etfs.tests.factories import InstrumentFactory, make_bars
from prices.admin import CappedCountPaginator
from prices.models import AnnouncedSplit, CorporateAction, DailyBar

CHANGELIST = reverse("admin:prices_dailybar_changelist")

pytestmark = pytest.mark.django_db


def listed(response) -> list[tuple[str, dt.date]]:
    return [(bar.instrument.symbol, bar.trading_date) for bar in response.context["cl"].result_list]


def test_newest_bars_come_first(admin_client):
    etf = InstrumentFactory(code="510300")
    make_bars(etf, [dt.date(2024, 1, 2), dt.date(2024, 1, 4), dt.date(2024, 1, 3)])

    response = admin_client.get(CHANGELIST)

    assert [day for _symbol, day in listed(response)] == [dt.date(2024, 1, 4), dt.date(2024, 1, 3), dt.date(2024, 1, 2)]


def test_filter_by_symbol_in_any_form(admin_client):
    make_bars(InstrumentFactory(code="510300"), [dt.date(2024, 1, 2)])
    make_bars(InstrumentFactory(code="159915", exchange="SZ"), [dt.date(2024, 1, 2)])

    response = admin_client.get(CHANGELIST, {"symbol": "sz159915"})

    assert listed(response) == [("159915.SZ", dt.date(2024, 1, 2))]


def test_unparseable_symbol_shows_no_bars(admin_client):
    make_bars(InstrumentFactory(code="510300"), [dt.date(2024, 1, 2)])

    response = admin_client.get(CHANGELIST, {"symbol": "not a symbol"})

    assert response.status_code == 200
    assert listed(response) == []


def test_filter_by_date_range_is_inclusive(admin_client):
    make_bars(InstrumentFactory(code="510300"), trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 12)))

    response = admin_client.get(CHANGELIST, {"date_from": "2024-01-04", "date_to": "2024-01-08"})

    assert [day for _s, day in listed(response)] == [dt.date(2024, 1, 8), dt.date(2024, 1, 5), dt.date(2024, 1, 4)]


def test_list_never_counts_the_whole_table(admin_client):
    make_bars(InstrumentFactory(code="510300"), [dt.date(2024, 1, 2), dt.date(2024, 1, 3)])

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST, {"symbol": "510300.SH"})

    assert len(listed(response)) == 2
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "LIMIT 10001" in counts[0]


def test_list_reads_instruments_in_the_same_query(admin_client):
    for code in ("510300", "510500", "510050"):
        make_bars(InstrumentFactory(code=code), [dt.date(2024, 1, 2)])

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST)
        symbols = [bar.instrument.symbol for bar in response.context["cl"].result_list]

    assert symbols == ["510050.SH", "510300.SH", "510500.SH"]  # same day: by symbol
    assert sum("etfs_instrument" in q["sql"] for q in queries) == 1


def test_capped_paginator_stops_counting_at_the_cap(monkeypatch):
    make_bars(InstrumentFactory(code="510300"), trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 12)))
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)

    paginator = CappedCountPaginator(DailyBar.objects.order_by("-time"), 2)

    assert (paginator.count, paginator.capped) == (6, True)


def test_capped_list_says_more_than_the_cap(admin_client, monkeypatch):
    make_bars(InstrumentFactory(code="510300"), trading_days(dt.date(2024, 1, 2), dt.date(2024, 1, 12)))
    monkeypatch.setattr(CappedCountPaginator, "CAP", 5)

    html = admin_client.get(CHANGELIST).content.decode()

    assert "more than 5 bars" in html


def test_bars_are_read_only(admin_client):
    make_bars(InstrumentFactory(code="510300"), [dt.date(2024, 1, 2)])
    bar = DailyBar.objects.get()

    add = admin_client.get(reverse("admin:prices_dailybar_add"))
    change = admin_client.post(reverse("admin:prices_dailybar_change", args=[bar.pk]), {"close": "9.999"})

    assert add.status_code == 403
    assert change.status_code == 403
    bar.refresh_from_db()
    assert bar.close == Decimal("3.500")


def test_curator_corporate_action_is_saved_as_manual(admin_client):
    etf = InstrumentFactory(code="510300")

    response = admin_client.post(
        reverse("admin:prices_corporateaction_add"),
        {"instrument": etf.pk, "ex_date": "2024-06-17", "cash": "0.069", "split_ratio": "1"},
    )

    assert response.status_code == 302
    action = CorporateAction.objects.get()
    assert (action.ex_date, action.cash, action.source) == (dt.date(2024, 6, 17), Decimal("0.0690"), "manual")


def test_editing_a_found_action_makes_it_manual(admin_client):
    etf = InstrumentFactory(code="510300")
    action = CorporateAction.objects.create(
        instrument=etf, ex_date=dt.date(2024, 6, 17), cash=Decimal("0.07"), source=CorporateAction.Source.PROVIDER
    )

    admin_client.post(
        reverse("admin:prices_corporateaction_change", args=[action.pk]),
        {"instrument": etf.pk, "ex_date": "2024-06-17", "cash": "0.069", "split_ratio": "1"},
    )

    action.refresh_from_db()
    assert (action.cash, action.source) == (Decimal("0.0690"), "manual")


def test_action_list_shows_how_each_action_was_found(admin_client):
    etf = InstrumentFactory(code="510300")
    CorporateAction.objects.create(
        instrument=etf, ex_date=dt.date(2024, 6, 17), cash=Decimal("0.07"), source=CorporateAction.Source.PROVIDER
    )
    CorporateAction.objects.create(
        instrument=etf, ex_date=dt.date(2024, 7, 1), split_ratio=Decimal(2), source=CorporateAction.Source.SNAPSHOT
    )

    page = admin_client.get(reverse("admin:prices_corporateaction_changelist")).content.decode()

    assert "Provider&#x27;s adjusted series" in page and "List snapshot (f18), unconfirmed" in page


def test_action_list_shows_a_ratio_taken_from_the_split_table(admin_client):
    etf = InstrumentFactory(code="159919")
    CorporateAction.objects.create(
        instrument=etf,
        ex_date=dt.date(2019, 1, 14),
        split_ratio=Decimal("1.1106808610"),
        source=CorporateAction.Source.TABLE,
    )

    page = admin_client.get(reverse("admin:prices_corporateaction_changelist") + "?source=table").content.decode()

    assert "distribution table, checked against its qfq series" in page and "1.1106808610" in page


def test_the_stored_split_table_is_listed_read_only(admin_client):
    AnnouncedSplit.objects.create(code="159919", ex_date=dt.date(2019, 1, 11), split_ratio=Decimal("1.1106808610"))

    page = admin_client.get(reverse("admin:prices_announcedsplit_changelist") + "?q=159919").content.decode()
    add = admin_client.get(reverse("admin:prices_announcedsplit_add"))

    assert "1.1106808610" in page and add.status_code == 403
