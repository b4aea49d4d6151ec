"""Held bars and the revision log: the sync keeps stored bars against suspicious revisions,
applies small ones with a log entry, and a curator accepts or rejects what was held."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.providers.base import BarRecord
from etfs.simulator.market import SimConfig
from etfs.sync.options import SyncOptions
from etfs.sync.runs import RunRecorder
from etfs.sync.screening import bar_rules, screen_snapshot
from etfs.sync.service import run_sync
from etfs.tests.factories import DailyBarFactory, InstrumentFactory, StockFactory, SyncRunFactory
from prices import quarantine
from prices.models import BarRevision, DailyBar, QuarantinedBar, bar_values, time_to_trading_date
from prices.quarantine import Quarantine

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 28)
DAY = dt.date(2024, 1, 2)


def record(close: str = "3.480", volume: int = 123456700) -> BarRecord:
    return BarRecord(
        DAY, Decimal("3.500"), Decimal("3.520"), Decimal("3.470"), Decimal(close), volume, Decimal("430123456.00")
    )


def desk(instrument) -> Quarantine:
    run = SyncRunFactory(status=SyncRun.Status.RUNNING)
    return Quarantine(RunRecorder(run), {instrument.pk: instrument.symbol}, {instrument.pk: 3})


# --- revisions of stored bars ---------------------------------------------------------------------
def test_price_revision_beyond_two_ticks_is_held_and_the_stored_bar_kept():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)
    screen = desk(instrument)

    kept = screen.screen_stored([(instrument.pk, record(close="3.490"))])

    assert kept == []
    held = QuarantinedBar.objects.get()
    assert (held.kind, held.old["close"], held.new["close"]) == ("revision", "3.480", "3.490")
    assert "close 3.480 → 3.490" in held.reason
    assert screen.recorder.run.failed_symbols == [instrument.symbol]


def test_price_revision_of_a_tick_or_two_is_applied_and_logged():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)

    kept = desk(instrument).screen_stored([(instrument.pk, record(close="3.482"))])

    assert len(kept) == 1
    revision = BarRevision.objects.get()
    assert (revision.old["close"], revision.new["close"], revision.reason) == (
        "3.480",
        "3.482",
        "provider revised close",
    )


def test_volume_correction_is_applied_and_logged_with_old_and_new():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)

    kept = desk(instrument).screen_stored([(instrument.pk, record(volume=123456800))])

    assert len(kept) == 1 and not QuarantinedBar.objects.exists()
    revision = BarRevision.objects.get()
    assert (revision.old["volume"], revision.new["volume"]) == (123456700, 123456800)


def test_unchanged_bar_logs_nothing():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)

    assert len(desk(instrument).screen_stored([(instrument.pk, record())])) == 1
    assert not BarRevision.objects.exists()


def test_same_values_are_not_held_twice():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)
    desk(instrument).screen_stored([(instrument.pk, record(close="3.490"))])
    again = desk(instrument)

    again.screen_stored([(instrument.pk, record(close="3.490"))])

    assert QuarantinedBar.objects.count() == 1
    assert again.recorder.run.errors == []


def test_rejected_values_are_not_held_again():
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)
    desk(instrument).screen_stored([(instrument.pk, record(close="3.490"))])
    quarantine.reject(QuarantinedBar.objects.get(), "curator")

    desk(instrument).screen_stored([(instrument.pk, record(close="3.490"))])

    assert list(QuarantinedBar.objects.values_list("status", flat=True)) == ["rejected"]


# --- the curator's answers -------------------------------------------------------------------------
def held_revision(instrument) -> QuarantinedBar:
    DailyBarFactory(instrument=instrument, day=DAY)
    desk(instrument).screen_stored([(instrument.pk, record(close="3.490"))])
    return QuarantinedBar.objects.get()


def test_accept_writes_the_held_values_and_logs_the_change():
    instrument = InstrumentFactory()
    held = held_revision(instrument)

    quarantine.accept(held, "curator")

    assert DailyBar.objects.get().close == Decimal("3.490")
    held.refresh_from_db()
    assert (held.status, held.decided_by) == ("accepted", "curator")
    revision = BarRevision.objects.get()
    assert (revision.old["close"], revision.new["close"]) == ("3.480", "3.490")


def test_reject_keeps_the_stored_bar():
    instrument = InstrumentFactory()
    held = held_revision(instrument)

    quarantine.reject(held, "curator")

    assert DailyBar.objects.get().close == Decimal("3.480")
    held.refresh_from_db()
    assert held.status == "rejected"


def test_admin_shows_both_values_and_accepts(admin_client):
    instrument = InstrumentFactory()
    held = held_revision(instrument)
    url = reverse("admin:prices_quarantinedbar_changelist")

    html = admin_client.get(url).content.decode()
    response = admin_client.post(url, {"action": "accept_selected", "_selected_action": [held.pk]})

    assert "3.480" in html and "3.490" in html and "stored" in html and "provider" in html
    assert response.status_code == 302
    assert DailyBar.objects.get().close == Decimal("3.490")


def test_admin_rejects(admin_client):
    instrument = InstrumentFactory()
    held = held_revision(instrument)

    admin_client.post(
        reverse("admin:prices_quarantinedbar_changelist"), {"action": "reject_selected", "_selected_action": [held.pk]}
    )

    held.refresh_from_db()
    assert held.status == "rejected" and DailyBar.objects.get().close == Decimal("3.480")


def test_revision_log_is_read_only_in_the_admin(admin_client):
    instrument = InstrumentFactory()
    DailyBarFactory(instrument=instrument, day=DAY)
    desk(instrument).screen_stored([(instrument.pk, record(volume=123456800))])

    html = admin_client.get(reverse("admin:prices_barrevision_changelist")).content.decode()

    assert "123456700" in html and "123456800" in html
    assert admin_client.get(reverse("admin:prices_barrevision_add")).status_code == 403


def test_landing_page_lists_held_bars(client):
    cache.clear()
    instrument = InstrumentFactory()
    held_revision(instrument)

    html = client.get("/").content.decode()

    assert 'id="held"' in html and instrument.symbol in html and "3.490" in html


def test_stored_values_are_json_text():
    bar = DailyBarFactory()

    assert bar_values(bar) == {
        "open": "3.500",
        "high": "3.520",
        "low": "3.470",
        "close": "3.480",
        "volume": 123456700,
        "amount": "430123456.00",
    }


# --- the whole sync against the simulator ----------------------------------------------------------
@pytest.fixture
def sim(sync_host):
    return sync_host(SimConfig(n_etfs=3, n_stocks=1, years=1, today=TODAY, seed=7))


def sync(sim, **options) -> SyncRun:
    return run_sync(
        SyncOptions.parse("etfs", workers=2, **options),
        now=dt.datetime.combine(sim.today, dt.time(16, 0), tzinfo=SHANGHAI),
    )


def test_provider_revising_a_close_is_held_by_the_history_run(sim):
    sync(sim)
    symbol = "510300.SH"
    bar = sim.market.bars(symbol)[-2]
    sim.market.revise_bar(
        symbol, bar.day, **{n: getattr(bar, n) * Decimal("1.02") for n in ("open", "high", "low", "close")}
    )
    revised = next(b for b in sim.market.bars(symbol) if b.day == bar.day)

    run = sync(sim, prices_only=True)

    assert (run.status, run.failed_symbols) == (SyncRun.Status.PARTIAL, [symbol])
    held = QuarantinedBar.objects.get()
    assert (held.day, held.old["close"], held.new["close"]) == (bar.day, str(bar.close), str(revised.close))
    stored = {time_to_trading_date(b.time): b.close for b in DailyBar.objects.filter(instrument__symbol=symbol)}
    assert stored[bar.day] == bar.close


def test_provider_correcting_a_volume_is_applied_and_logged(sim):
    sync(sim)
    symbol = "510300.SH"
    bar = sim.market.bars(symbol)[-1]
    sim.market.revise_bar(symbol, bar.day, volume=bar.volume + 500)

    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS
    revision = BarRevision.objects.get()
    assert (revision.day, revision.old["volume"], revision.new["volume"]) == (bar.day, bar.volume, bar.volume + 500)
    assert revision.sync_run_id == run.pk
    assert "small revisions applied and logged 1" in run.message


# --- the snapshot quote: today's name tells today's limit ------------------------------------------
def quote(day: dt.date, close: str) -> BarRecord:
    value = Decimal(close)
    return BarRecord(day, value, value, value, value, 100, value * 100, prev_close=Decimal("10.00"))


@pytest.mark.parametrize(
    ("name", "day", "held"),
    [
        ("*ST海润", dt.date(2024, 6, 28), True),  # 5 % for a main-board risk warning then
        ("海润光伏", dt.date(2024, 6, 28), False),  # 10 % without the warning
        ("*ST海润", dt.date(2025, 7, 7), False),  # 10 % for everyone on the main boards since
    ],
)
def test_a_risk_warning_stocks_quote_beyond_five_percent_is_held(name, day, held):
    stock = StockFactory(code="600401", name=name)
    rules = bar_rules([stock], day)

    kept = screen_snapshot([(stock, quote(day, "10.70"))], rules, desk(stock), desk(stock).recorder)

    assert (kept == [], QuarantinedBar.objects.filter(instrument=stock).exists()) == (held, held)
