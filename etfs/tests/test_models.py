from __future__ import annotations

import pytest
from django.db import IntegrityError

from etfs.models import Instrument, SyncRun
from etfs.tests.factories import InstrumentFactory, StockFactory, SyncRunFactory

pytestmark = pytest.mark.django_db


def test_symbol_is_derived_from_code_and_exchange():
    instrument = Instrument.objects.create(code="159919", exchange="SZ", name="沪深300ETF")
    assert instrument.symbol == "159919.SZ"


def test_symbol_is_unique():
    InstrumentFactory(code="510300", exchange="SH")
    with pytest.raises(IntegrityError):
        Instrument.objects.create(symbol="510300.SH", code="510300", exchange="SH")


def test_exchange_must_be_known_at_database_level():
    with pytest.raises(IntegrityError):
        Instrument.objects.create(symbol="510300.HK", code="510300", exchange="HK")


def test_queryset_kinds():
    etf = InstrumentFactory(code="510300")
    stock = StockFactory(code="600519")
    InstrumentFactory(code="510500", is_active=False)
    assert list(Instrument.objects.etfs().active()) == [etf]
    assert list(Instrument.objects.stocks()) == [stock]


def test_of_kind_rejects_unknown_kind():
    with pytest.raises(ValueError, match="'bonds'"):
        Instrument.objects.of_kind("bonds")


def test_locked_fields_are_not_overwritten_by_provider_values():
    instrument = InstrumentFactory(is_etf=False, name="old")
    instrument.lock("is_etf")
    changed = instrument.apply_provider_values({"is_etf": True, "name": "new"})
    assert changed == ["name"]
    assert instrument.is_etf is False
    assert instrument.name == "new"


def test_lock_rejects_unknown_fields():
    with pytest.raises(ValueError, match="symbol"):
        InstrumentFactory().lock("symbol")


def test_sync_run_records_failed_symbols_and_last_success():
    SyncRunFactory(status=SyncRun.Status.FAILED)
    run = SyncRunFactory(status=SyncRun.Status.PARTIAL, errors=[{"symbol": "510300.SH", "error": "boom"}])
    assert run.failed_symbols == ["510300.SH"]
    assert SyncRun.objects.last_success("etfs") is None
    assert run.duration is not None and run.duration >= 0
