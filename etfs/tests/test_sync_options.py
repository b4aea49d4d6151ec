"""``SyncOptions``: one checked, immutable record of what a sync is asked to do, stored in its run row."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from etfs.symbols import parse_symbol
from etfs.sync.options import Scope, SyncOptionError, SyncOptions


def test_the_command_line_flags_become_one_scope():
    assert SyncOptions.parse("etfs").scope is Scope.ALL
    assert SyncOptions.parse("etfs", list_only=True).scope is Scope.LIST
    assert SyncOptions.parse("etfs", prices_only=True).scope is Scope.PRICES


def test_list_only_and_prices_only_together_are_a_usage_error():
    with pytest.raises(SyncOptionError, match="--list-only and --prices-only exclude each other"):
        SyncOptions.parse("etfs", list_only=True, prices_only=True)


def test_symbols_are_parsed_from_any_form_and_separator():
    options = SyncOptions.parse("etfs", symbols=["510300.SH,sz159919", "1.512880"])

    assert options.symbol_names == ["510300.SH", "159919.SZ", "512880.SH"]


def test_options_cannot_be_changed_once_built():
    options = SyncOptions(kind="etfs")

    with pytest.raises(dataclasses.FrozenInstanceError):
        options.full = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "bonds"}, "unknown sync kind 'bonds'"),
        ({"kind": "etfs", "start": dt.date(2024, 6, 10), "end": dt.date(2024, 6, 1)}, "is after --end"),
        ({"kind": "etfs", "scope": Scope.LIST, "start": dt.date(2024, 6, 1)}, "make no sense with --list-only"),
        ({"kind": "etfs", "workers": 0}, "--workers must be at least 1"),
        ({"kind": "etfs", "verify_adjustments": True, "full": True}, "cannot be combined with --full"),
        (
            {"kind": "etfs", "verify_adjustments": True, "scope": Scope.PRICES, "dry_run": True},
            "cannot be combined with --prices-only, --dry-run",
        ),
    ],
)
def test_bad_combinations_are_refused_when_built(options, message):
    with pytest.raises(SyncOptionError, match=message):
        SyncOptions(**options)


def test_json_holds_only_what_differs_from_a_plain_sync():
    options = SyncOptions.parse("etfs", symbols="510300.SH", full=True)

    assert options.to_json() == {"symbols": ["510300.SH"], "full": True}
    assert SyncOptions(kind="stocks").to_json() == {}


def test_every_option_survives_the_round_trip_through_json():
    options = SyncOptions(
        kind="stocks",
        scope=Scope.PRICES,
        symbols=(parse_symbol("600519.SH"), parse_symbol("000001.SZ")),
        start=dt.date(2024, 6, 3),
        end=dt.date(2024, 6, 7),
        full=True,
        provider="tencent",
        workers=2,
        dry_run=True,
        funds=False,
    )

    assert SyncOptions.from_json("stocks", options.to_json()) == options


def test_rows_written_before_the_scope_existed_read_the_same():
    legacy = {
        "symbols": ["510300.SH"],
        "start": None,
        "end": None,
        "full": False,
        "list_only": True,
        "prices_only": False,
        "provider": None,
        "workers": 4,
        "dry_run": False,
        "funds": True,
    }

    options = SyncOptions.from_json("etfs", legacy)

    assert (options.scope, options.symbol_names, options.workers) == (Scope.LIST, ["510300.SH"], 4)
