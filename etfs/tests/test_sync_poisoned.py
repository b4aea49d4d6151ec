"""A hostile host (issue 13): one poisoned instrument or list, everything else the truth.

Per poison of ``etfs.simulator.poison``: every clean instrument equals the simulator's truth,
the bad one is skipped (invalid) or its day held in quarantine (suspicious) with a reason,
nothing invalid is stored, the API answers without a 500, and ``sync_etfs`` exits 1 naming
the bad instrument. Unmarked, so it runs on SQLite, PostgreSQL (where a backfill takes the
``COPY`` lane) and TimescaleDB.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from etfs.calendar import SHANGHAI, previous_trading_day
from etfs.models import Instrument, SyncRun
from etfs.simulator.market import SimConfig
from etfs.simulator.poison import CLAIMED_ROWS, JUNK_CODES, poison_day
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from prices.models import CorporateAction, DailyBar, QuarantinedBar, time_to_trading_date

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 6, 28)


@pytest.fixture
def sim(sync_host):
    # Two attempts: a poisoned answer is what the host says, retrying it only costs time.
    return sync_host(SimConfig(n_etfs=5, n_stocks=2, years=1, today=TODAY, seed=7), MAX_ATTEMPTS=2)


def listed_etfs(sim) -> list[str]:
    return sorted(i.symbol.canonical for i in sim.market.listed() if i.is_etf)


def target(sim) -> str:
    """A listed ETF with a bar today that is not an ex-day (its quote takes the snapshot path)."""
    return next(
        s
        for s in listed_etfs(sim)
        if sim.market.bars(s)[-1].day == TODAY and all(a.ex_date != TODAY for a in sim.market.instrument(s).actions)
    )


def poison(sim, *names: str) -> str:
    symbol = target(sim)
    sim.config.poison, sim.config.poison_symbol = names, symbol
    return symbol


def sync_command(sim) -> CommandError | None:
    now = dt.datetime.combine(sim.today, dt.time(16, 0), tzinfo=SHANGHAI)
    try:
        call_command(
            "sync_etfs", "--now", now.isoformat(), "--workers", "2", stdout=io.StringIO(), stderr=io.StringIO()
        )
    except CommandError as error:
        return error
    return None


def stored(symbol: str) -> list[tuple]:
    return [
        (time_to_trading_date(b.time), b.open, b.high, b.low, b.close, b.volume, b.amount)
        for b in DailyBar.objects.filter(instrument__symbol=symbol).order_by("time")
    ]


def truth(sim, symbol: str) -> list[tuple]:
    return [(b.day, b.open, b.high, b.low, b.close, b.volume, b.amount) for b in sim.market.bars(symbol)]


def assert_fails_naming(error: CommandError | None, symbol: str) -> None:
    assert error is not None and error.returncode == 1
    assert symbol in str(error)
    assert symbol in SyncRun.objects.order_by("-started_at").first().failed_symbols


def assert_clean_instruments_equal_the_truth(sim, bad: str) -> None:
    for symbol in listed_etfs(sim):
        if symbol != bad:
            assert stored(symbol) == truth(sim, symbol), symbol


def assert_nothing_invalid_stored() -> None:
    for bar in DailyBar.objects.all():
        assert bar.low > 0 and bar.low <= min(bar.open, bar.close) and max(bar.open, bar.close) <= bar.high
        assert bar.volume >= 0 and time_to_trading_date(bar.time).year >= 1990
    assert not CorporateAction.objects.filter(split_ratio__lte=0).exists()


def assert_api_answers(client, symbol: str) -> None:
    for url in (
        "/api/bars/latest/",
        "/api/bars/latest/?format=csv",
        f"/api/instruments/{symbol}/",
        f"/api/instruments/{symbol}/bars/",
        f"/api/instruments/{symbol}/bars/?adjust=qfq&interval=1w",
    ):
        assert client.get(url).status_code in (200, 404), url


# --- the snapshot quote ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["zero-quote", "negative-low-quote", "inverted-quote", "nan-quote"])
def test_bad_snapshot_quote_skips_that_etf_and_stores_the_day_for_every_other(sim, client, name):
    sim.set_today(previous_trading_day(TODAY))
    assert sync_command(sim) is None
    sim.set_today(TODAY)
    bad = poison(sim, name)

    error = sync_command(sim)

    assert_fails_naming(error, bad)
    assert "snapshot quote" in str(SyncRun.objects.order_by("-started_at").first().errors)
    assert_clean_instruments_equal_the_truth(sim, bad)
    assert stored(bad) == truth(sim, bad)[:-1]  # everything but the poisoned day
    assert_nothing_invalid_stored()
    assert_api_answers(client, bad)


def test_thousandfold_snapshot_quote_is_held_and_the_day_stored_for_every_other(sim, client):
    sim.set_today(previous_trading_day(TODAY))
    assert sync_command(sim) is None
    sim.set_today(TODAY)
    bad = poison(sim, "thousandfold-quote")

    error = sync_command(sim)

    assert_fails_naming(error, bad)
    held = QuarantinedBar.objects.get()
    assert (held.instrument.symbol, held.day, held.kind, held.old) == (bad, TODAY, "move", None)
    assert held.new["close"] == str(truth(sim, bad)[-1][4] * 1000)
    assert stored(bad) == truth(sim, bad)[:-1]
    assert_clean_instruments_equal_the_truth(sim, bad)
    assert_api_answers(client, bad)


# --- the history ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("duplicate-day", "the same date twice"),
        ("nan-history", "not a finite number"),
        ("negative-close", "not positive"),
        ("close-above-high", "between low and high"),
        ("year-1479", "before the first session"),
    ],
)
def test_invalid_history_skips_that_etf_and_stores_every_other(sim, client, name, reason):
    bad = poison(sim, name)

    error = sync_command(sim)

    assert_fails_naming(error, bad)
    run = SyncRun.objects.get()
    message = next(e["error"] for e in run.errors if e["symbol"] == bad)
    assert reason in message and "row:" in message
    assert_clean_instruments_equal_the_truth(sim, bad)
    assert stored(bad) == []
    assert_nothing_invalid_stored()
    assert_api_answers(client, bad)


def test_invalid_history_in_a_full_refetch_keeps_the_stored_bars(sim):
    assert sync_command(sim) is None
    bad = poison(sim, "nan-history")

    run = run_sync(
        SyncOptions.parse("etfs", full=True), now=dt.datetime.combine(TODAY, dt.time(16, 0), tzinfo=SHANGHAI)
    )

    assert (run.status, run.failed_symbols) == (SyncRun.Status.PARTIAL, [bad])
    assert stored(bad) == truth(sim, bad)


def test_thousandfold_day_is_quarantined_and_invents_no_action(sim, client):
    bad = poison(sim, "thousandfold-day")
    day = poison_day(sim.market, bad)

    error = sync_command(sim)

    assert_fails_naming(error, bad)
    held = QuarantinedBar.objects.get()
    assert (held.instrument.symbol, held.day, held.kind, held.status) == (bad, day, "move", "pending")
    assert "beyond the ±20% daily limit" in held.reason
    assert held.old is None and held.new["close"] == str(
        next(b.close for b in sim.market.bars(bad) if b.day == day) * 1000
    )
    assert stored(bad) == [row for row in truth(sim, bad) if row[0] != day]
    assert set(CorporateAction.objects.filter(instrument__symbol=bad).values_list("ex_date", flat=True)) == {
        a.ex_date for a in sim.market.instrument(bad).actions
    }
    assert_clean_instruments_equal_the_truth(sim, bad)
    assert_api_answers(client, bad)


def test_held_day_is_not_held_again_by_the_next_run(sim):
    poison(sim, "thousandfold-day")
    sync_command(sim)

    error = sync_command(sim)

    assert error is None
    assert QuarantinedBar.objects.count() == 1


# --- the list ----------------------------------------------------------------------------------
def test_junk_list_codes_are_rejected_and_create_no_instrument(sim):
    sim.config.poison = ("junk-codes",)

    error = sync_command(sim)

    assert error is not None and error.returncode == 1
    run = SyncRun.objects.get()
    assert {e["symbol"].rsplit(".", 1)[0] for e in run.errors} == set(JUNK_CODES)
    assert set(Instrument.objects.values_list("symbol", flat=True)) == set(listed_etfs(sim))
    assert_clean_instruments_equal_the_truth(sim, "")


def test_junk_list_rows_do_not_fail_a_run_for_other_symbols(sim):
    sim.config.poison = ("junk-codes",)
    symbol = target(sim)

    run = run_sync(
        SyncOptions.parse("etfs", symbols=[symbol]), now=dt.datetime.combine(TODAY, dt.time(16, 0), tzinfo=SHANGHAI)
    )

    assert (run.status, run.errors) == (SyncRun.Status.SUCCESS, [])
    assert stored(symbol) == truth(sim, symbol)


def test_overlong_name_skips_that_etf_without_deactivating_it(sim):
    sync_command(sim)
    bad = poison(sim, "long-name")

    error = sync_command(sim)

    assert_fails_naming(error, bad)
    instrument = Instrument.objects.get(symbol=bad)
    assert instrument.is_active and len(instrument.name) < 128
    assert_clean_instruments_equal_the_truth(sim, bad)


def test_list_claiming_a_million_rows_is_refused_after_one_request(sim):
    sim.set_today(previous_trading_day(TODAY))
    sync_command(sim)
    sim.set_today(TODAY)
    sim.config.poison = ("million-rows",)

    error = sync_command(sim)

    assert error is not None and error.returncode == 1
    assert f"{CLAIMED_ROWS:,} rows" in str(error)
    assert len([r for r in sim.requests() if "clist" in r.path]) == 2  # one per run
    assert_clean_instruments_equal_the_truth(sim, "")
