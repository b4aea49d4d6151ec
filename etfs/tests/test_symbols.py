from __future__ import annotations

import pytest

from etfs.symbols import Symbol, classify_code, infer_exchange, parse_symbol, parse_symbols
from etfs.tests.factories import InstrumentFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("510300.SH", Symbol("510300", "SH")),
        ("510300.sh", Symbol("510300", "SH")),
        ("sh510300", Symbol("510300", "SH")),
        ("SH510300", Symbol("510300", "SH")),
        ("510300", Symbol("510300", "SH")),
        ("159919", Symbol("159919", "SZ")),
        ("sz159919", Symbol("159919", "SZ")),
        ("000001", Symbol("000001", "SZ")),
        ("300750", Symbol("300750", "SZ")),
        ("688981", Symbol("688981", "SH")),
        ("430047", Symbol("430047", "BJ")),
        ("920001", Symbol("920001", "BJ")),
        ("bj830799", Symbol("830799", "BJ")),
        (" 512010.SH ", Symbol("512010", "SH")),
        ("1.510300", Symbol("510300", "SH")),
        ("0.159919", Symbol("159919", "SZ")),
        ("0.430047", Symbol("430047", "BJ")),
        # baostock
        ("sh.510300", Symbol("510300", "SH")),
        ("sz.159919", Symbol("159919", "SZ")),
        # JoinQuant, RiceQuant
        ("510300.XSHG", Symbol("510300", "SH")),
        ("159919.XSHE", Symbol("159919", "SZ")),
        ("510300.xshg", Symbol("510300", "SH")),
        # GM (掘金)
        ("SHSE.510300", Symbol("510300", "SH")),
        ("SZSE.159919", Symbol("159919", "SZ")),
        # Yahoo: .SS is Shanghai, .SZ Shenzhen
        ("510300.SS", Symbol("510300", "SH")),
        ("159919.SZ", Symbol("159919", "SZ")),
    ],
)
def test_parse_symbol_accepts_every_documented_form(text, expected):
    assert parse_symbol(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "51030",
        "5103000",
        "510300.HK",
        "hk510300",
        "abc",
        "510300.S",
        "SH..510300",
        "2.510300",
        "510300.XSHX",
        "SHSE510300",
        "510300.SSE",
    ],
)
def test_parse_symbol_rejects_garbage_naming_the_input(text):
    with pytest.raises(ValueError) as exc:
        parse_symbol(text)
    assert repr(text) in str(exc.value)


def test_parse_symbol_rejects_non_strings():
    with pytest.raises(ValueError):
        parse_symbol(510300)  # type: ignore[arg-type]


def test_bare_code_with_unknown_prefix_asks_for_the_exchange():
    with pytest.raises(ValueError, match=r"700001\.SH"):
        parse_symbol("700001")


def test_symbol_renders_provider_forms():
    symbol = parse_symbol("159919")
    assert symbol.canonical == "159919.SZ"
    assert symbol.prefixed == "sz159919"
    assert symbol.secid == "0.159919"
    assert parse_symbol("510300").secid == "1.510300"
    assert parse_symbol("430047").secid == "0.430047"


def test_parse_symbols_dedupes_and_reports_all_bad_entries():
    assert parse_symbols("510300, sh510300 159919") == [Symbol("510300", "SH"), Symbol("159919", "SZ")]
    with pytest.raises(ValueError) as exc:
        parse_symbols(["510300", "bad1", "bad2"])
    assert "'bad1'" in str(exc.value) and "'bad2'" in str(exc.value)


def test_infer_exchange_follows_prefix_rules():
    assert [infer_exchange(c) for c in ("600000", "510300", "159915", "002594", "830799", "900901")] == [
        "SH",
        "SH",
        "SZ",
        "SZ",
        "BJ",
        "SH",
    ]


@pytest.mark.parametrize(
    ("code", "exchange", "kind"),
    [
        ("510300", "SH", "etf"),
        ("588000", "SH", "etf"),
        ("561300", "SH", "etf"),
        ("501054", "SH", "lof"),
        ("508000", "SH", "reit"),
        ("600519", "SH", "stock"),
        ("159919", "SZ", "etf"),
        ("161005", "SZ", "lof"),
        ("180101", "SZ", "reit"),
        ("000001", "SZ", "stock"),
        ("430047", "BJ", "stock"),
    ],
)
def test_classify_code(code, exchange, kind):
    assert classify_code(code, exchange) == kind


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form", ["510300.SH", "sh510300", "1.510300", "510300", "sh.510300", "510300.XSHG", "SHSE.510300", "510300.SS"]
)
def test_every_symbol_form_resolves_in_the_api(client, form):
    InstrumentFactory(code="510300")
    assert client.get(f"/api/instruments/{form}/").json()["symbol"] == "510300.SH"
    assert client.get(f"/api/instruments/{form}/bars/").status_code == 200
    assert client.get("/api/bars/", {"symbols": form, "format": "csv"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["159919.SZ", "sz.159919", "159919.XSHE", "SZSE.159919"])
def test_shenzhen_forms_resolve_in_the_api(client, form):
    InstrumentFactory(code="159919", exchange="SZ")
    assert client.get(f"/api/instruments/{form}/").json()["symbol"] == "159919.SZ"
