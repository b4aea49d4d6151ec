"""One running sync per kind: a live run blocks a second one, a dead one's run is taken over at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from django.utils import timezone

from etfs.models import SyncRun
from etfs.providers.http import stop_requests
from etfs.sync.options import SyncOptions
from etfs.sync.runs import Interrupted, RunRecorder, claim_run
from etfs.sync.service import run_sync
from etfs.tests.factories import SyncRunFactory
from etfs.tests.fake_provider import fake_market

pytestmark = pytest.mark.django_db


def claim(kind: str = "etfs", run: SyncRun | None = None) -> SyncRun:
    return claim_run(kind, parameters={}, trigger="command", triggered_by="test", run=run)


def test_second_run_of_a_kind_is_skipped_while_the_first_is_alive():
    busy = claim()

    run = claim()

    assert run.status == SyncRun.Status.SKIPPED
    assert f"run #{busy.pk}" in run.message
    assert run.finished_at is not None


def test_skipped_run_makes_no_request():
    claim()
    market = fake_market()

    run = run_sync(SyncOptions.parse("etfs"), provider=market)

    assert (run.status, market.stats.requests) == (SyncRun.Status.SKIPPED, 0)


def test_run_of_a_dead_process_is_marked_failed_and_taken_over_at_once():
    dead = SyncRunFactory(status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now())  # nobody holds its lock

    run = claim()

    dead.refresh_from_db()
    assert (run.status, dead.status) == (SyncRun.Status.RUNNING, SyncRun.Status.FAILED)
    assert "Its process died" in dead.message


def test_live_run_is_never_taken_over_however_old_its_heartbeat(settings):
    settings.SYNC = {**settings.SYNC, "STALE_RUN_SECONDS": 1}
    busy = claim()
    SyncRun.objects.filter(pk=busy.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=2))

    run = claim()

    busy.refresh_from_db()
    assert (run.status, busy.status) == (SyncRun.Status.SKIPPED, SyncRun.Status.RUNNING)


def test_finished_run_lets_the_next_one_start():
    first = claim()
    RunRecorder(first).finish(SyncRun.Status.SUCCESS, "done")

    assert claim().status == SyncRun.Status.RUNNING


def test_a_running_sync_of_the_other_kind_does_not_block():
    SyncRunFactory(kind=SyncRun.Kind.STOCKS, status=SyncRun.Status.RUNNING, heartbeat_at=timezone.now())

    assert claim("etfs").status == SyncRun.Status.RUNNING


def test_queued_runs_do_not_block():
    SyncRunFactory(status=SyncRun.Status.QUEUED)

    assert claim().status == SyncRun.Status.RUNNING


def test_claiming_a_queued_row_keeps_its_identity():
    queued = SyncRunFactory(status=SyncRun.Status.QUEUED, triggered_by="ana")

    run = claim(run=queued)

    assert (run.pk, run.status, run.triggered_by) == (queued.pk, SyncRun.Status.RUNNING, "ana")


def test_heartbeat_saves_counters_and_errors():
    run = claim()
    recorder = RunRecorder(run)
    recorder.add(bars_inserted=7)
    recorder.error("510300.SH", "HTTP 502")

    recorder.heartbeat(force=True)

    run.refresh_from_db()
    assert (run.bars_inserted, run.failures, run.errors) == (7, 1, [{"symbol": "510300.SH", "error": "HTTP 502"}])


def test_heartbeat_goes_on_while_the_list_host_hangs(monkeypatch):
    monkeypatch.setattr("etfs.sync.runs.HEARTBEAT_SECONDS", 0.05)
    market = fake_market()
    real_list = market.list_instruments
    beats = []

    def hanging_list(*args, **kwargs):
        time.sleep(0.4)
        return list(real_list(*args, **kwargs))

    monkeypatch.setattr(market, "list_instruments", hanging_list)
    real_beat = RunRecorder.heartbeat

    def spy(self, *, force=False):
        beats.append(force)
        real_beat(self, force=force)

    monkeypatch.setattr(RunRecorder, "heartbeat", spy)

    run = run_sync(SyncOptions.parse("etfs", list_only=True), provider=market)

    assert run.status == SyncRun.Status.SUCCESS
    assert beats.count(True) >= 4  # forced beats while the list request waited


@pytest.fixture
def requests_allowed_again():
    yield
    stop_requests.clear()  # an interrupted run leaves it set for the threads of an exiting process


def test_sigterm_during_a_run_ends_it_as_failed_keeping_what_was_written(requests_allowed_again):
    market = fake_market()

    def terminate(phase, done, total):
        if phase == "history" and done >= 1:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted):
        run_sync(SyncOptions.parse("etfs", workers=1), provider=market, progress=terminate)

    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert run.message.startswith("Interrupted: interrupted by SIGTERM")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone again
    assert claim().status == SyncRun.Status.RUNNING  # and the lock with it
