"""django-q2 tasks and schedules of the sync (tasks run inline in tests)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django_q.models import Schedule

import etfs.tasks
from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.schedules import SCHEDULES, install_schedules, next_run_time
from etfs.sync.options import SyncOptions
from etfs.tasks import enqueue_sync, scheduled_sync, sync_task
from etfs.tests.factories import SyncRunFactory
from etfs.tests.fake_provider import fake_market, install_fake_provider
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def market(monkeypatch):
    return install_fake_provider(monkeypatch, fake_market())


def test_enqueue_sync_runs_the_queued_row_inline(market):
    run = enqueue_sync(SyncOptions.parse("etfs", symbols=["510300"]), trigger="admin", triggered_by="ana")

    assert (run.status, run.trigger, run.triggered_by) == (SyncRun.Status.SUCCESS, "admin", "ana")
    assert run.parameters["symbols"] == ["510300.SH"]
    assert run.instruments_new == 1
    assert SyncRun.objects.count() == 1


def test_enqueue_sync_leaves_a_queued_row_when_a_cluster_will_run_it(market, settings, monkeypatch):
    queued = []
    monkeypatch.setattr(etfs.tasks, "async_task", lambda *args, **kwargs: queued.append((args, kwargs)))

    run = enqueue_sync(SyncOptions(kind="stocks"))

    assert run.status == SyncRun.Status.QUEUED
    assert queued[0][0] == ("etfs.tasks.sync_task", run.pk)


def test_enqueue_sync_rejects_a_bad_kind_or_symbol_before_queueing(market):
    with pytest.raises(ValueError, match="unknown sync kind"):
        enqueue_sync(SyncOptions.parse("bonds"))
    with pytest.raises(ValueError, match="not an instrument symbol"):
        enqueue_sync(SyncOptions.parse("etfs", symbols=["nope"]))
    assert SyncRun.objects.count() == 0


def test_sync_task_does_not_rerun_a_finished_run(market):
    run = SyncRunFactory(status=SyncRun.Status.SUCCESS)

    result = sync_task(run.pk)

    assert result == f"run #{run.pk} was success; nothing done"
    assert market.stats.requests == 0


def test_scheduled_sync_on_a_non_trading_day_records_why_and_does_nothing(market):
    national_day = dt.datetime(2024, 10, 1, 16, 0, tzinfo=SHANGHAI)

    scheduled_sync("etfs", now=national_day)

    run = SyncRun.objects.get()
    assert (run.status, run.trigger) == (SyncRun.Status.SKIPPED, SyncRun.Trigger.TASK)
    assert "2024-10-01 (Tuesday) is not a trading day" in run.message
    assert market.stats.requests == 0


def test_scheduled_sync_on_a_trading_day_syncs(market):
    scheduled_sync("etfs", now=dt.datetime(2024, 6, 28, 16, 0, tzinfo=SHANGHAI))

    run = SyncRun.objects.get()
    assert (run.status, run.triggered_by, run.bars_inserted > 0) == (SyncRun.Status.SUCCESS, "schedule: etfs", True)


def test_scheduled_list_sync_runs_on_a_weekend(market):
    scheduled_sync("etfs", list_only=True, now=dt.datetime(2024, 6, 29, 9, 0, tzinfo=SHANGHAI))

    run = SyncRun.objects.get()
    assert (run.status, run.instruments_new, run.bars_inserted) == (SyncRun.Status.SUCCESS, 3, 0)


def test_weekly_list_sync_audits_a_sample_and_repairs_its_actions(market, settings):
    settings.SYNC = {**settings.SYNC, "AUDIT_SAMPLE": 3}
    scheduled_sync("etfs", now=dt.datetime(2024, 6, 28, 16, 0, tzinfo=SHANGHAI))
    CorporateAction.objects.filter(instrument__symbol="510300.SH").update(cash=Decimal("0.06"), source="derived")

    result = scheduled_sync("etfs", list_only=True, now=dt.datetime(2024, 6, 29, 9, 0, tzinfo=SHANGHAI))

    assert result.endswith("audited 3: 1 action(s) changed, 0 still differing")
    action = CorporateAction.objects.get(instrument__symbol="510300.SH")
    assert (action.cash, action.source) == (Decimal("0.05"), "provider")


def test_weekly_audit_sample_rotates(market, settings):
    settings.SYNC = {**settings.SYNC, "AUDIT_SAMPLE": 1}
    scheduled_sync("etfs", now=dt.datetime(2024, 6, 28, 16, 0, tzinfo=SHANGHAI))
    audited = []
    for saturday in (dt.datetime(2024, 6, 29, 9, tzinfo=SHANGHAI), dt.datetime(2024, 7, 6, 9, tzinfo=SHANGHAI)):
        before = len(market.adjusted_requests)
        scheduled_sync("etfs", list_only=True, now=saturday)
        audited.append({symbol for symbol, *_ in market.adjusted_requests[before:]})

    assert len(audited[0]) == len(audited[1]) == 1 and audited[0] != audited[1]


def test_migration_created_every_schedule():
    names = set(Schedule.objects.values_list("name", flat=True))

    assert {spec.name for spec in SCHEDULES} <= names


def test_install_schedules_is_idempotent_and_keeps_next_run():
    first = dict(Schedule.objects.values_list("name", "next_run"))

    result = install_schedules(now=dt.datetime(2030, 1, 1, tzinfo=SHANGHAI))

    assert all(created is False for _, created in result)
    assert dict(Schedule.objects.values_list("name", "next_run")) == first
    assert Schedule.objects.filter(name__startswith="etfsync:").count() == len(SCHEDULES)


def test_schedules_call_the_scheduled_task_with_their_kind():
    etf = Schedule.objects.get(name="etfsync: ETF daily bars")
    lists = Schedule.objects.get(name="etfsync: stock list (weekly)")

    assert (etf.func, etf.args, etf.schedule_type) == ("etfs.tasks.scheduled_sync", "('etfs',)", Schedule.DAILY)
    assert (lists.args, lists.kwargs, lists.schedule_type) == ("('stocks',)", "{'list_only': True}", Schedule.WEEKLY)


def test_daily_schedule_fires_after_the_close_in_shanghai():
    spec = SCHEDULES[0]

    assert next_run_time(spec, dt.datetime(2024, 6, 28, 15, 0, tzinfo=SHANGHAI)) == dt.datetime(
        2024, 6, 28, 16, 0, tzinfo=SHANGHAI
    )
    assert next_run_time(spec, dt.datetime(2024, 6, 28, 17, 0, tzinfo=SHANGHAI)) == dt.datetime(
        2024, 6, 29, 16, 0, tzinfo=SHANGHAI
    )


def test_weekly_schedule_fires_on_saturday():
    spec = next(s for s in SCHEDULES if s.weekday is not None)

    assert next_run_time(spec, dt.datetime(2024, 6, 26, 12, 0, tzinfo=SHANGHAI)).date() == dt.date(2024, 6, 29)


def test_setup_schedules_command_reports_each_schedule(capsys):
    call_command("setup_schedules")

    out = capsys.readouterr().out
    assert out.count("up to date") == len(SCHEDULES)
    assert "qcluster" in out
