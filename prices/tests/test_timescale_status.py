"""``manage.py timescale_status``: what an operator sees of hypertables, compression, policies, aggregates."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from etfs.tests.factories import DailyBarFactory, InstrumentFactory
from prices.timescale import compress_chunks

pytestmark = pytest.mark.django_db


def status_output(*args: str) -> str:
    out = io.StringIO()
    call_command("timescale_status", *args, stdout=out)
    return out.getvalue()


@pytest.mark.timescale
def test_status_shows_chunks_compression_policies_and_aggregates():
    DailyBarFactory(instrument=InstrumentFactory())
    compress_chunks()

    lines = status_output().splitlines()

    assert any(line.split()[:3] == ["prices_dailybar", "1", "365"] for line in lines)  # name, chunks, interval
    assert any(line.strip().startswith("_hyper_") and " True " in line for line in lines)  # a compressed chunk
    assert any("instrument_id segmentby, time orderby desc" in line for line in lines)
    assert sum("policy_refresh_continuous_aggregate" in line for line in lines) == 2
    assert any("policy_compression" in line and '"60 days"' in line for line in lines)
    assert ["prices_dailybar_weekly", "False", "nothing", "yet"] in [line.split()[:4] for line in lines]  # real-time


@pytest.mark.timescale
def test_refresh_inside_a_transaction_says_nothing_was_refreshed():
    assert "refreshed: nothing" in status_output("--refresh")


def test_status_refuses_a_database_without_timescaledb(is_timescale):
    if is_timescale:
        pytest.skip("TimescaleDB answers; the other tiers refuse")
    with pytest.raises(CommandError, match="no TimescaleDB extension"):
        status_output()
