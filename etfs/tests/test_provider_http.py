from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from etfs.providers.base import RequestStats
from etfs.providers.errors import BadPayload, ProviderError, ProviderUnavailable, TransientError
from etfs.providers.http import (
    CircuitBreaker,
    ClientOptions,
    HostClient,
    RateLimiter,
    parse_retry_after,
    shared_rate_limiter,
)
from etfs.simulator.server import KLINE_PATH

TODAY = dt.date(2024, 6, 28)
FAST = ClientOptions(
    connect_timeout=1.0, read_timeout=1.0, max_attempts=5, backoff_base=0.001, backoff_max=0.01, rate_limit=0
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def client_for(sim, options: ClientOptions = FAST, **kwargs) -> HostClient:
    return HostClient(sim.base_url.removeprefix("http://"), options, RequestStats(), **kwargs)


def fetch_kline(client: HostClient, sim, secid: str = "1.510300") -> str:
    return client.get(sim.kline_url, {"secid": secid, "klt": 101, "fqt": 0}, parse=_json_only, symbol="510300.SH")


def _json_only(text: str) -> str:
    try:
        json.loads(text)
    except ValueError:
        raise BadPayload("unparseable body") from None
    return text


# --- rate limiter ---------------------------------------------------------------------------------
def test_rate_limiter_spaces_callers_one_interval_apart_with_headroom():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)

    for _ in range(4):
        limiter.acquire()

    assert clock.slept == pytest.approx([0.2625, 0.525, 0.7875])


def test_rate_limiter_does_not_wait_when_requests_are_already_slow():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)

    limiter.acquire()
    clock.now += 5
    limiter.acquire()

    assert clock.slept == []


def test_rate_limiter_gives_every_thread_its_own_slot():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            waited = limiter.acquire()
            with lock:
                waits.append(waited)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits) == pytest.approx([k * 0.105 for k in range(80)])


def test_rate_limiter_makes_late_wakers_keep_the_per_second_cap():
    """Five callers sleep to their slots and all wake late at once (the process was busy):
    four may start together, the fifth waits until the oldest of them is a second old."""
    clock = FakeClock()
    asleep = threading.Semaphore(0)
    gate = threading.Event()

    def sleep(seconds: float) -> None:
        if not gate.is_set():
            asleep.release()
            gate.wait()

    limiter = RateLimiter(4, clock=clock, sleep=sleep)  # 0.2625 s apart, at most 4 starts a second
    limiter.pause(0.1)  # every caller sleeps to its slot
    waits: list[float] = []
    threads = [threading.Thread(target=lambda: waits.append(limiter.acquire())) for _ in range(5)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert asleep.acquire(timeout=5)
    clock.now += 1.2  # every slot (100.1 ... 101.15) has passed
    gate.set()
    for thread in threads:
        thread.join()

    slot_waits = [0.1 + k * 0.2625 for k in range(5)]
    assert limiter.window_cap == 4
    assert sum(waits) == pytest.approx(sum(slot_waits) + 1.0)  # one caller held back one second


def test_rate_limiter_pause_holds_back_the_next_caller():
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)

    limiter.pause(3.0)
    limiter.acquire()

    assert clock.slept == [pytest.approx(3.0)]


def test_rate_limiter_with_zero_rate_never_waits():
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)

    for _ in range(100):
        limiter.acquire()

    assert clock.slept == []


def test_shared_rate_limiter_is_one_per_host():
    first = shared_rate_limiter("limiter-test-a:1", 2)

    assert shared_rate_limiter("limiter-test-a:1", 3) is first
    assert first.rate == 3
    assert shared_rate_limiter("limiter-test-b:1", 2) is not first


# --- circuit breaker --------------------------------------------------------------------------------
def test_breaker_opens_after_threshold_consecutive_failures():
    breaker = CircuitBreaker(3, 60, clock=FakeClock())

    for _ in range(2):
        breaker.record_failure(ProviderError("x"))
    assert breaker.allow()
    breaker.record_failure(ProviderError("x"))

    assert not breaker.allow()


def test_breaker_success_resets_the_failure_count():
    breaker = CircuitBreaker(2, 60, clock=FakeClock())

    breaker.record_failure(ProviderError("x"))
    breaker.record_success()
    breaker.record_failure(ProviderError("x"))

    assert breaker.allow()


def test_breaker_allows_one_trial_after_the_cooldown_and_reopens_if_it_fails():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 60, clock=clock)
    breaker.record_failure(ProviderError("x"))
    clock.now += 61

    assert [breaker.allow(), breaker.allow()] == [True, False]
    breaker.record_failure(ProviderError("x"))
    assert not breaker.allow()


def test_breaker_closes_when_the_trial_succeeds():
    clock = FakeClock()
    breaker = CircuitBreaker(1, 60, clock=clock)
    breaker.record_failure(ProviderError("x"))
    clock.now += 61
    breaker.allow()

    breaker.record_success()

    assert (breaker.is_open, breaker.allow(), breaker.allow()) == (False, True, True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0.5", 0.5), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("soon", None), (None, None)],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header, expected):
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC).timestamp()

    assert parse_retry_after(header, now=now) == expected


# --- host client against the simulator -----------------------------------------------------------------
def test_client_sends_browser_user_agent_and_eastmoney_referer(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)

    fetch_kline(client_for(sim), sim)

    entry = sim.requests(KLINE_PATH)[0]
    assert entry.user_agent.startswith("Mozilla/5.0") and entry.referer == "https://quote.eastmoney.com/"


def test_client_retries_failures_and_counts_every_attempt(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, seed=5, fail_rate=0.5, garbage_rate=0.2)
    client = client_for(sim, ClientOptions(**{**FAST.__dict__, "max_attempts": 20}))

    bodies = [fetch_kline(client, sim) for _ in range(5)]

    log = sim.requests(KLINE_PATH)
    assert len(set(bodies)) == 1 and '"code":"510300"' in bodies[0]
    assert client.stats.requests == len(log)
    assert client.stats.retries == sum(entry.outcome != "ok" for entry in log) > 0
    assert client.stats.failures == 0


def test_client_gives_up_after_max_attempts_naming_host_instrument_and_status(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, fail_rate=1.0)
    client = client_for(sim, ClientOptions(**{**FAST.__dict__, "max_attempts": 3}))

    with pytest.raises(TransientError) as caught:
        fetch_kline(client, sim)

    message = str(caught.value)
    assert "gave up after 3 attempts" in message
    assert f"host={sim.base_url.removeprefix('http://')}" in message
    assert "instrument=510300.SH" in message and "status=50" in message and "Bad Gateway" in message
    assert (len(sim.request_log), client.stats.requests, client.stats.retries, client.stats.failures) == (3, 3, 2, 1)


def test_client_waits_as_long_as_retry_after_says(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, rps_limit=1)
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        time.sleep(seconds)

    client = client_for(sim, sleep=sleep)
    fetch_kline(client, sim)
    fetch_kline(client, sim)

    assert [entry.status for entry in sim.request_log] == [200, 429, 200]
    assert delays == [pytest.approx(1.0)]


def test_client_retries_a_host_that_hangs_past_the_read_timeout(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, hang_rate=1.0, hang_seconds=5)
    client = client_for(sim, ClientOptions(**{**FAST.__dict__, "read_timeout": 0.2, "max_attempts": 2}))

    with pytest.raises(TransientError, match="timed out") as caught:
        fetch_kline(client, sim)

    assert "gave up after 2 attempts" in str(caught.value)
    assert client.stats.requests == 2


def test_client_retries_connections_closed_without_an_answer(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, drop_rate=1.0)
    client = client_for(sim, ClientOptions(**{**FAST.__dict__, "max_attempts": 2}))

    with pytest.raises(TransientError, match="connection failed"):
        fetch_kline(client, sim)

    assert [entry.outcome for entry in sim.request_log] == ["drop", "drop"]


def test_client_does_not_retry_a_client_error(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY)
    client = client_for(sim)

    with pytest.raises(ProviderError, match="HTTP 404") as caught:
        client.get(sim.base_url + "/no/such/endpoint", {}, parse=_json_only)

    assert not isinstance(caught.value, TransientError)
    assert (len(sim.request_log), client.stats.failures) == (1, 1)


def test_open_breaker_refuses_at_once_naming_host_and_last_answer(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=TODAY, fail_rate=1.0)
    client = client_for(sim, ClientOptions(**{**FAST.__dict__, "max_attempts": 2, "breaker_threshold": 2}))
    for _ in range(2):
        with pytest.raises(TransientError):
            fetch_kline(client, sim)

    with pytest.raises(ProviderUnavailable) as caught:
        fetch_kline(client, sim)

    message = str(caught.value)
    assert "circuit breaker open" in message and sim.base_url.removeprefix("http://") in message
    assert "status=50" in message
    assert len(sim.request_log) == 4
