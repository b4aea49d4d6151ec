"""Names normalised for search (NFKC, spaces dropped) and pinyin initials; the display name stays as sent."""

from __future__ import annotations

import pytest

from etfs.models import Instrument
from etfs.names import name_initials, normalise_name
from etfs.tests.factories import InstrumentFactory, StockFactory


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("黄金ＥＴＦ", "黄金ETF"),
        ("万  科Ａ", "万科A"),
        ("沪深３００ＥＴＦ", "沪深300ETF"),
        ("招商\u3000银行", "招商银行"),
        ("", ""),
    ],
)
def test_normalise_name_folds_full_width_and_drops_spaces(name, normalised):
    assert normalise_name(name) == normalised


@pytest.mark.parametrize(("name", "initials"), [("黄金ＥＴＦ", "HJETF"), ("招商银行", "ZSYH"), ("万  科Ａ", "WKA")])
def test_name_initials_are_pinyin_initials_of_the_normalised_name(name, initials):
    assert name_initials(name) == initials


@pytest.mark.django_db
def test_saving_keeps_the_display_name_and_fills_the_search_columns():
    instrument = StockFactory(code="000002", exchange="SZ", name="万  科Ａ")
    instrument.refresh_from_db()
    assert (instrument.name, instrument.search_name, instrument.name_initials) == ("万  科Ａ", "万科A", "WKA")


@pytest.mark.django_db
def test_a_provider_rename_updates_the_search_columns():
    instrument = InstrumentFactory(code="518880", name="黄金")
    changed = instrument.apply_provider_values({"name": "黄金ＥＴＦ"})
    instrument.save(update_fields=[*changed, "updated_at"])
    assert Instrument.objects.get(pk=instrument.pk).search_name == "黄金ETF"


@pytest.fixture
def named(db):
    InstrumentFactory(code="518880", name="黄金ＥＴＦ")
    StockFactory(code="000002", exchange="SZ", name="万  科Ａ")
    InstrumentFactory(code="510300", name="沪深300ETF")


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("黄金ETF", ["518880.SH"]),
        ("黄金ＥＴＦ", ["518880.SH"]),
        ("万科A", ["000002.SZ"]),
        ("HJ", ["518880.SH"]),
        ("wka", ["000002.SZ"]),
    ],
)
def test_api_search_finds_names_however_typed(client, named, term, expected):
    results = client.get("/api/instruments/", {"search": term}).json()["results"]
    assert [r["symbol"] for r in results] == expected


def test_api_shows_the_provider_name(client, named):
    assert client.get("/api/instruments/000002.SZ/").json()["name"] == "万  科Ａ"


@pytest.mark.parametrize(
    ("term", "expected"), [("黄金ETF", "518880.SH"), ("万科A", "000002.SZ"), ("HJETF", "518880.SH")]
)
def test_admin_search_finds_names_however_typed(admin_client, named, term, expected):
    response = admin_client.get("/admin/etfs/instrument/", {"q": term})
    assert expected in response.content.decode()
    assert response.context["cl"].result_count == 1
