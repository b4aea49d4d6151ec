"""A backfill killed (``kill -9``) or stopped (SIGTERM) at 30 % and 80 %: the very next run takes
over at once, finishes, and the database equals the simulator's truth, without duplicates."""

from __future__ import annotations

import datetime as dt
import signal

import pytest

from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator
from etfs.tests.processes import not_on_timescale, only_on_sqlite, simulator_env, stop, truth_bars, wait_until

pytestmark = not_on_timescale

TODAY = dt.date(2024, 6, 28)
NOW = f"{TODAY.isoformat()}T16:00:00+08:00"
LATENCY = 0.04  # a one-worker backfill of 12 ETFs takes about half a second
# Then a host this slow: progress stands still until the signal lands, however loaded the machine
# (a SIGTERMed run still waits for its request in flight, so not slower).
FROZEN = 1.0


@pytest.fixture(scope="module")
def host():
    """One simulated host for every variant (the bars are the truth, never changed by a sync)."""
    with run_simulator(SimConfig(n_etfs=12, n_stocks=0, years=1, today=TODAY, seed=11)) as sim:
        yield sim


@pytest.fixture
def slow_host(host):
    host.config.latency = LATENCY
    yield host
    host.config.latency = 0


@pytest.mark.parametrize(
    ("share", "how"),
    [
        # Each signal on both tiers (the liveness lock is a file lock on SQLite, a session
        # advisory lock on PostgreSQL); every share of the backfill on SQLite.
        pytest.param(0.3, signal.SIGKILL, id="at-30%-kill-9", marks=only_on_sqlite),
        pytest.param(0.3, signal.SIGTERM, id="at-30%-sigterm"),
        pytest.param(0.8, signal.SIGKILL, id="at-80%-kill-9"),
        pytest.param(0.8, signal.SIGTERM, id="at-80%-sigterm", marks=only_on_sqlite),
    ],
)
def test_next_run_takes_over_a_stopped_backfill_at_once_and_equals_the_truth(scratch_database, slow_host, how, share):
    db, sim = scratch_database, slow_host
    # Small write batches: about one instrument per transaction, so progress shows in fine steps.
    env = simulator_env(sim, MARKETDATA_RATE_LIMIT="0", SYNC_BATCH_SIZE="200")
    truth = truth_bars(sim)
    etfs = len({row[0] for row in truth})  # ETFs with bars to backfill
    backfill = db.start("sync_etfs", "--now", NOW, "--workers", "1", **env)
    wait_until(lambda: db.scalar("SELECT count(DISTINCT instrument_id) FROM prices_dailybar") >= share * etfs)
    sim.config.latency = FROZEN  # the backfill stays mid-way however late the signal lands

    code, output = stop(backfill, how)

    written = db.scalar("SELECT count(DISTINCT instrument_id) FROM prices_dailybar")
    assert 0 < written < etfs, f"stopped mid-backfill: {written} of {etfs}"
    if how == signal.SIGTERM:
        assert code == 1, output
        assert "interrupted by SIGTERM" in output
    sim.config.latency = 0  # the rerun need not be slow
    rerun = db.manage("sync_etfs", "--now", NOW, **env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Another etfs sync" not in rerun.stdout
    bars, (first, second) = db.contents()
    assert (first["status"], second["status"]) == ("failed", "success")
    expected = "Interrupted: interrupted by SIGTERM" if how == signal.SIGTERM else "Its process died"
    assert expected in first["message"]
    assert bars == truth
    assert db.scalar("SELECT count(*) FROM prices_dailybar") == len(truth)
