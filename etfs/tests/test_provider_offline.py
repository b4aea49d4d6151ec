"""No network (DNS failure, no route): one attempt, reported as what it is, the run stops at once."""

from __future__ import annotations

import datetime as dt
import errno
import socket

import pytest
import urllib3.util.connection

from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.providers.base import RequestStats
from etfs.providers.errors import NoNetwork, TransientError
from etfs.providers.http import ClientOptions, HostClient, network_down
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync

OPTIONS = ClientOptions(connect_timeout=1.0, read_timeout=1.0, max_attempts=5, backoff_base=0.001, rate_limit=0)
URL = "http://push2his.eastmoney.example/api/qt/stock/kline/get"


@pytest.fixture
def dns_down(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", fail)


@pytest.fixture
def no_route(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", fail)


def fetch(client: HostClient) -> str:
    return client.get(URL, {"secid": "1.510300"}, parse=str, symbol="510300.SH")


def test_dns_failure_is_not_retried_and_says_no_network(dns_down):
    client = HostClient("push2his.eastmoney.example", OPTIONS, RequestStats())

    with pytest.raises(NoNetwork) as caught:
        fetch(client)

    assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert "no network: the host name does not resolve" in str(caught.value)
    assert "IP ban" not in str(caught.value)


def test_no_route_is_not_retried_and_says_no_network(no_route):
    client = HostClient("push2his.eastmoney.example", OPTIONS, RequestStats())

    with pytest.raises(NoNetwork) as caught:
        fetch(client)

    assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert "Network is unreachable" in str(caught.value)


def test_no_network_leaves_the_breaker_closed(dns_down):
    client = HostClient("push2his.eastmoney.example", OPTIONS, RequestStats())

    for _ in range(OPTIONS.breaker_threshold + 1):
        with pytest.raises(NoNetwork):
            fetch(client)

    assert not client.breaker.is_open


@pytest.mark.django_db
def test_sync_without_network_stops_at_once_as_failed_saying_so(dns_down, settings):
    settings.MARKETDATA = {
        **settings.MARKETDATA,
        "EASTMONEY_LIST_URL": "http://push2.eastmoney.example/api/qt/clist/get",
        "EASTMONEY_KLINE_URL": URL,
        "TENCENT_KLINE_URL": "http://web.ifzq.gtimg.example/appstock/app/fqkline/get",
        "RATE_LIMIT": 0,
        "BACKOFF_BASE": 0.001,
    }

    run = run_sync(SyncOptions.parse("etfs"), now=dt.datetime(2024, 6, 28, 16, tzinfo=SHANGHAI))

    assert run.status == SyncRun.Status.FAILED
    assert run.message.startswith("Stopped at once, no network: the host name does not resolve")
    assert (run.requests, run.retries) == (1, 0)


def test_a_refused_connection_is_still_retried_as_a_host_problem():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HostClient(f"127.0.0.1:{port}", OPTIONS, RequestStats())

    with pytest.raises(TransientError) as caught:
        client.get(f"http://127.0.0.1:{port}/x", {}, parse=str)

    assert not isinstance(caught.value, NoNetwork)
    assert (client.stats.requests, client.stats.retries) == (OPTIONS.max_attempts, OPTIONS.max_attempts - 1)


def test_wrapped_causes_with_text_reasons_are_walked_safely():
    class WithTextReason(Exception):
        reason = "just text"

    error = WithTextReason("outer")
    error.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert network_down(error).startswith("no network: the host name does not resolve")
    assert network_down(WithTextReason("alone")) == ""
