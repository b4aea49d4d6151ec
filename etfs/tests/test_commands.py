"""``sync_etfs`` / ``sync_stocks``: options, output, exit codes (0 ok, 1 failures, 2 usage)."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from etfs.models import SyncRun
from etfs.sync.runs import claim_run
from etfs.tests.fake_provider import fake_market, install_fake_provider
from prices.models import CorporateAction, DailyBar

pytestmark = pytest.mark.django_db

NOW = "2024-06-28T16:00:00+08:00"


@pytest.fixture
def market(monkeypatch):
    return install_fake_provider(monkeypatch, fake_market())


def sync(command: str = "sync_etfs", *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, "--now", NOW, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_sync_etfs_prints_a_summary_and_succeeds(market):
    out = sync()

    assert "ETFs sync #" in out
    assert ": success in" in out
    assert "instruments 3 new, 0 updated, 0 deactivated, 3 synced, 0 failed" in out
    assert f"bars {DailyBar.objects.count()} inserted, 0 updated, 0 unchanged" in out


def test_second_run_says_nothing_changed(market):
    sync()

    out = sync()

    assert "bars 0 inserted, 0 updated, 3 unchanged (nothing changed)" in out


def test_sync_stocks_syncs_stocks(market):
    out = sync("sync_stocks")

    assert "Stocks sync #" in out
    assert SyncRun.objects.get().kind == SyncRun.Kind.STOCKS


def test_failed_instrument_exits_1_naming_it(market):
    market.failing.add("159919.SZ")

    with pytest.raises(CommandError) as error:
        sync()

    assert error.value.returncode == 1
    assert "1 instrument(s) failed: 159919.SZ" in str(error.value)


@pytest.mark.parametrize(
    "args",
    [
        ("--symbols", "51030X"),
        ("--list-only", "--prices-only"),
        ("--start", "2024-13-01"),
        ("--start", "2024-06-10", "--end", "2024-06-01"),
        ("--workers", "0"),
        ("--provider", "bloomberg"),
    ],
)
def test_usage_errors_exit_2_before_any_request(market, args):
    with pytest.raises(CommandError) as error:
        sync("sync_etfs", *args)

    assert error.value.returncode == 2
    assert market.stats.requests == 0
    assert SyncRun.objects.count() == 0


def test_symbols_accept_any_form_and_commas(market):
    sync("sync_etfs", "--symbols", "sh510300,159919")

    assert SyncRun.objects.get().parameters["symbols"] == ["510300.SH", "159919.SZ"]


def test_list_only_stores_no_bars(market):
    out = sync("sync_etfs", "--list-only")

    assert "instruments 3 new" in out
    assert DailyBar.objects.count() == 0


def test_dry_run_writes_nothing(market):
    out = sync("sync_etfs", "--dry-run")

    assert "(dry run): success" in out
    assert (SyncRun.objects.count(), DailyBar.objects.count()) == (0, 0)


def test_busy_kind_says_so_and_exits_0(market):
    busy = claim_run("etfs", parameters={}, trigger="command", triggered_by="another process")

    out = sync()

    assert f"Another etfs sync (run #{busy.pk}" in out
    assert market.stats.requests == 0


def test_plain_progress_lines_when_not_on_a_terminal(market):
    out = sync()

    assert "etfs list: 1/1 (100%)" in out
    assert "etfs history: 3/3 (100%)" in out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_then_the_summary(market):
    out = Terminal()

    call_command("sync_etfs", "--now", NOW, stdout=out, stderr=io.StringIO())

    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # the terminal's control codes
    assert re.search(r"etfs history\s+━+\s+3/3", shown)  # the bar itself, drawn to the end
    assert "etfs history: 3/3" not in shown  # no plain log lines on a terminal
    assert ": success in" in shown


def test_verify_adjustments_repairs_and_reports_what_changed(market):
    sync()
    CorporateAction.objects.filter(instrument__symbol="159919.SZ").update(split_ratio=Decimal(3), source="snapshot")

    out = sync("sync_etfs", "--verify-adjustments", "--symbols", "159919.SZ", "510300.SH")

    assert "159919.SZ: wrong before: qfq " in out and "after: none" in out
    assert "corrected 2024-06-03: cash 0, ratio 3 -> cash 0, ratio 2" in out
    assert "verified 2 instrument(s)" in out and "1 action(s) changed, 0 still differing" in out
    assert CorporateAction.objects.get(instrument__symbol="159919.SZ").split_ratio == 2


def test_verify_adjustments_refuses_bar_options(market):
    with pytest.raises(CommandError, match="cannot be combined with --full") as caught:
        sync("sync_etfs", "--verify-adjustments", "--full")

    assert caught.value.returncode == 2
