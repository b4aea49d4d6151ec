"""One request budget per host for every process: two syncs at once stay within the setting."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etfs.providers.base import RequestStats
from etfs.providers.errors import ProviderUnavailable
from etfs.providers.http import BudgetGate, ClientOptions, HostClient, stop_requests
from etfs.providers.sharedlimit import (
    MAX_TAKE_LAG,
    PENDING_EXPIRY,
    PENDING_POLL,
    DatabaseWindow,
    FallbackWindow,
    FileWindow,
    RedisWindow,
    Ticket,
    budget,
)
from etfs.simulator.index import INDEX_SECID
from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator
from etfs.tests.processes import busiest_window, not_on_timescale, only_on_sqlite, simulator_env, wait_until

TODAY = dt.date(2024, 6, 28)
NOW = f"{TODAY.isoformat()}T16:00:00+08:00"
# Each sync is set to 6 a second, and shared, the host must never count more than 6 in a second.
# It refuses only the 9th: a 7th or 8th would show in its log as a count above the setting (the
# assertion), not as a 429 the sync retries. Each on its own, the syncs send up to 12.
HOST_LIMIT = 8
RATE = 6


def _take_starts(directory: str, count: int, rate: float, out) -> None:
    """Take ``count`` entries from the file budget, each sent at once, and report the times the
    budget read for each (taken, sent): its own clock readings, not later ones (a process paused
    between the two on a busy machine would report starts closer together than they were)."""
    readings: list[float] = []

    def monotonic() -> float:
        readings.append(time.monotonic())
        return readings[-1]

    window = FileWindow("quote.example:80", Path(directory), clock=monotonic)
    for _ in range(count):
        while (ticket := window.take(*budget(rate)))[1] is None:
            time.sleep(ticket[0])
        taken = readings[-1]
        window.sent(ticket[1])
        out.put((taken, readings[-1]))


@only_on_sqlite
def test_file_budget_holds_across_processes(tmp_path):
    rate, per_process = 10, 6
    ctx = multiprocessing.get_context("fork")  # a spawned child would import Django again: seconds
    queue = ctx.Queue()
    workers = [ctx.Process(target=_take_starts, args=(str(tmp_path), per_process, rate, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    entries = [queue.get(timeout=60) for _ in range(3 * per_process)]
    for worker in workers:
        worker.join(timeout=60)

    assert busiest_window([taken for taken, _ in entries], 1.0) <= rate
    assert busiest_window([sent for _, sent in entries], 1.0) <= rate


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lagging_requests(window: FileWindow, clock: FakeClock, *, confirm: bool, n: int = 60) -> list[float]:
    """Four clients, each taking entries (cap 3 in 1 s) for ``n`` requests in all and writing each
    a seeded 0–0.6 s after taking it (a loaded machine: a thread that got its entry runs late).
    With ``confirm`` the budget learns each write's time (``sent``); without, it knows only the
    take, as the old budget did. Returns when the requests were written."""
    rng = random.Random(13)
    events: list[tuple[float, int, str, object]] = [(0.0, client, "take", None) for client in range(4)]
    written: list[float] = []
    while events and len(written) < n:
        events.sort(key=lambda e: (e[0], e[1]))
        clock.now, client, what, ticket = events.pop(0)
        if what == "take":
            wait, got = window.take(3, 1.0)
            if got is None:
                events.append((clock.now + wait, client, "take", None))
            else:
                events.append((clock.now + rng.uniform(0, 0.6), client, "write", got))
        else:
            written.append(clock.now)
            if confirm:
                window.sent(ticket)  # type: ignore[arg-type]
            events.append((clock.now, client, "take", None))
    return written


def test_a_write_held_up_after_its_take_never_crowds_a_window(tmp_path):
    clock = FakeClock()

    written = _lagging_requests(FileWindow("h:1", tmp_path, clock=clock), clock, confirm=True)

    assert busiest_window(written, 1.0) <= 3


def test_the_same_lags_crowd_a_window_when_only_takes_are_recorded(tmp_path):
    """The control for the test above: recording a request when it was allowed (the old budget)
    rather than when it was written lets the same lags put more than ``cap`` writes in a second."""
    clock = FakeClock()
    window = FileWindow("h:1", tmp_path, clock=clock)
    real_take = window.take

    def take_and_record(cap: int, seconds: float):  # the old budget: the entry counts as sent when taken
        wait, ticket = real_take(cap, seconds)
        if ticket is not None:
            window.sent(ticket)
        return wait, ticket

    window.take = take_and_record  # type: ignore[method-assign]

    written = _lagging_requests(window, clock, confirm=False)

    assert busiest_window(written, 1.0) > 3


def test_an_entry_counts_until_its_request_is_confirmed(tmp_path):
    clock = FakeClock()
    window = FileWindow("h:1", tmp_path, clock=clock)
    _, ticket = window.take(1, 1.0)
    clock.now = 5.0  # long after the window, the request still not written

    held = window.take(1, 1.0)
    window.sent(ticket)  # type: ignore[arg-type]
    clock.now = 5.5
    after_write = window.take(1, 1.0)

    assert held == (PENDING_POLL, None)  # may still leave: asked again soon
    assert after_write == (pytest.approx(0.5), None)  # written at 5.0: free at 6.0


def test_an_entry_given_back_unsent_is_free_at_once(tmp_path):
    window = FileWindow("h:1", tmp_path)
    _, ticket = window.take(1, 1.0)

    window.release(ticket)  # type: ignore[arg-type]

    assert window.take(1, 1.0)[1] is not None


def test_an_entry_of_a_killed_process_counts_as_sent_after_the_expiry(tmp_path):
    clock = FakeClock()
    FileWindow("h:1", tmp_path, clock=clock).take(1, 1.0)  # taken, never confirmed
    clock.now = PENDING_EXPIRY + 1.0

    assert FileWindow("h:1", tmp_path, clock=clock).take(1, 1.0)[1] is not None


def test_file_budget_pause_holds_everyone_back(tmp_path):
    first, second = FileWindow("h:1", tmp_path), FileWindow("h:1", tmp_path)
    assert first.take(5, 1.05)[0] == 0.0

    second.pause(30)

    assert 29 < first.take(5, 1.05)[0] <= 30


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """A throw-away Redis server (Debian's ``redis-server``): skipped where none is installed, but
    never in CI (``CI`` set), whose ``.ci/run`` installs it: there a missing server fails."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed: .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _redis_answers(url), timeout=20, every=0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _two_syncs(db, sim, sharing: str, **extra: str) -> list[subprocess.Popen]:
    """The ETF and the stock sync at once, both at ``RATE`` a second with the given sharing."""
    env = simulator_env(
        sim, MARKETDATA_RATE_LIMIT=str(RATE), MARKETDATA_CONCURRENCY="4", MARKETDATA_RATE_SHARING=sharing, **extra
    )
    return [db.start(command, "--now", NOW, **env) for command in ("sync_etfs", "sync_stocks")]


@contextlib.contextmanager
def _limited_host(
    n_etfs: int = 12, n_stocks: int = 12
) -> Iterator:  # ~50 requests: 8 s at once even if one starts late
    config = SimConfig(
        n_etfs=n_etfs, n_stocks=n_stocks, years=1, today=TODAY, seed=3, latency=0.01, rps_limit=HOST_LIMIT
    )
    with run_simulator(config) as sim:
        # Every path generated before the syncs start: the stock table's first answer would build
        # them all inside one request, holding the GIL while the host's other threads wait to stamp
        # their arrivals, which then bunch up (measured: 8 in a second against sends of 6).
        sim.market.warm_up()
        yield sim


def _overlap(log) -> float:
    """How long both syncs were asking for history at once (ETF codes 1xxxxx/5xxxxx, stocks the
    others; the calendar's index apart): the window in which unshared budgets would add up."""
    spans: dict[bool, list[float]] = {True: [], False: []}
    for entry in log:
        secid = entry.query.get("secid", "")
        if secid and secid != INDEX_SECID:
            spans[secid.split(".")[-1].startswith(("1", "5"))].append(entry.time)
    if not (spans[True] and spans[False]):
        return 0.0
    return min(max(spans[True]), max(spans[False])) - max(min(spans[True]), min(spans[False]))


@pytest.mark.parametrize(
    "sharing",
    [
        pytest.param("auto", marks=only_on_sqlite),
        pytest.param("database", marks=[pytest.mark.postgres, not_on_timescale]),
        # Redis does not depend on the database: it runs on PostgreSQL's tier, which has fewer process tests.
        pytest.param("redis", marks=[pytest.mark.postgres, not_on_timescale]),
    ],
)
def test_two_syncs_at_once_stay_within_the_hosts_limit(scratch_database, sharing, request):
    extra = {"Q_REDIS_URL": request.getfixturevalue("redis_url")} if sharing == "redis" else {}
    with _limited_host() as sim:
        processes = _two_syncs(scratch_database, sim, sharing, **extra)
        outputs = [p.communicate(timeout=240)[0] for p in processes]
        log = sim.requests()

    assert [p.returncode for p in processes] == [0, 0], outputs
    assert [entry for entry in log if entry.status == 429] == []
    times = sorted(entry.time for entry in log)
    assert busiest_window(times) <= RATE, [
        (round(t - times[0], 3), e.path) for t, e in sorted((e.time, e) for e in log)
    ]
    assert len(log) > 2 * HOST_LIMIT, len(log)  # long enough for the window to matter
    assert _overlap(log) > 1.0  # at once: unshared, their budgets would have added up (the control)


@only_on_sqlite
def test_without_sharing_two_syncs_overrun_the_limit(scratch_database):
    """The control: the same two syncs, each on its own budget, break the host's limit (and are
    stopped at the first refusal: the rest of their runs would prove nothing more)."""
    with _limited_host(n_etfs=30, n_stocks=30) as sim:  # long runs: a busy machine may start them apart
        processes = _two_syncs(scratch_database, sim, "off")
        try:
            wait_until(
                lambda: any(e.status == 429 for e in sim.requests()) or all(p.poll() is not None for p in processes),
                timeout=120,
            )
        finally:
            for process in processes:
                process.kill()
                process.communicate(timeout=60)
        log = sim.requests()

    assert any(entry.status == 429 for entry in log)


@pytest.mark.parametrize(("rate", "cap", "window"), [(50, 50, 1.1), (8, 8, 1.1), (1.5, 1, 1.1), (0.5, 1, 2.1)])
def test_budget_keeps_every_second_at_or_below_the_rate(rate, cap, window):
    assert budget(rate) == (cap, pytest.approx(window))


@pytest.fixture
def database_window():
    yield lambda name: DatabaseWindow(f"{name}-{time.monotonic_ns()}:80")
    DatabaseWindow.close_connections()


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_budget_refuses_a_take_beyond_the_cap_until_the_window_passes(database_window):
    window = database_window("budget")

    tickets = [window.take(3, 1.05) for _ in range(3)]
    for _, ticket in tickets:
        window.sent(ticket)
    wait, refused = window.take(3, 1.05)

    assert [wait for wait, _ in tickets] == [0.0, 0.0, 0.0] and refused is None
    assert 0.5 < wait <= 1.05


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_budget_counts_an_entry_until_confirmed_and_frees_one_given_back(database_window):
    window = database_window("pending")
    _, ticket = window.take(1, 0.01)
    time.sleep(0.05)  # past the window, but not written yet

    held = window.take(1, 0.01)
    window.release(ticket)

    assert held == (pytest.approx(PENDING_POLL), None)
    assert window.take(1, 0.01)[1] is not None


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_budget_pause_holds_everyone_back(database_window):
    window = database_window("pause")
    assert window.take(5, 1.05)[0] == 0.0

    window.pause(30)

    assert 29 < window.take(5, 1.05)[0] <= 30


def test_redis_budget_refuses_a_take_beyond_the_cap_and_honours_a_pause(redis_url, settings):
    settings.Q_REDIS_URL = redis_url
    window = RedisWindow("quote.example:80", redis_url)

    tickets = [window.take(3, 1.05) for _ in range(3)]
    for _, ticket in tickets:
        window.sent(ticket)
    wait, refused = window.take(3, 1.05)
    window.pause(30)

    assert [wait for wait, _ in tickets] == [0.0, 0.0, 0.0] and refused is None
    assert 0.5 < wait <= 1.05
    assert 29 < window.take(3, 1.05)[0] <= 30


def test_redis_budget_counts_an_entry_until_confirmed_and_frees_one_given_back(redis_url):
    window = RedisWindow("pending.example:80", redis_url)
    _, ticket = window.take(1, 0.01)
    time.sleep(0.05)

    held = window.take(1, 0.01)
    window.release(ticket)

    assert held == (pytest.approx(PENDING_POLL), None)
    assert window.take(1, 0.01)[1] is not None


def test_an_unreachable_redis_falls_back_to_the_file_budget(tmp_path, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    window = FallbackWindow(
        RedisWindow("quote.example:80", f"redis://127.0.0.1:{port}/0"),
        FileWindow("quote.example:80", tmp_path),
        "Redis",
    )

    taken = [window.take(2, 1.1) for _ in range(2)]
    for _, ticket in taken:
        window.sent(ticket)
    wait, refused = window.take(2, 1.1)

    assert [wait for wait, _ in taken] == [0.0, 0.0] and wait > 0 and refused is None  # the file budget still paces
    assert "the Redis request budget failed" in caplog.text


def _one_answer_server() -> tuple[socket.socket, threading.Event, threading.Event]:
    """A host that accepts one connection, reads one request and answers 200: it says when it
    accepted the connection and when the request's bytes arrived."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted, received = threading.Event(), threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        accepted.set()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        received.set()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted, received


def test_a_request_takes_its_entry_once_connected_and_confirms_it_once_written(tmp_path):
    server, accepted, received = _one_answer_server()
    seen: list[tuple] = []

    class Recording(FileWindow):
        def take(self, cap, window):
            seen.append(("take", accepted.wait(5), received.wait(0.2)))  # connected, nothing written yet
            return super().take(cap, window)

        def sent(self, ticket):
            seen.append(("sent", received.wait(5)))  # the request is out
            super().sent(ticket)

    host = f"127.0.0.1:{server.getsockname()[1]}"
    options = ClientOptions(connect_timeout=2, read_timeout=2, max_attempts=1, rate_limit=1000)
    client = HostClient(host, options, RequestStats())
    client.gate = BudgetGate(Recording(host, tmp_path), lambda: 1000)
    try:
        body = client.get(f"http://{host}/", {}, parse=lambda text: text)
    finally:
        client.close()
        server.close()

    assert body == "ok"
    assert seen == [("take", True, False), ("sent", True)]


class _SlowTake:
    """A budget whose first take returns its entry ``lag`` seconds after it was asked for."""

    def __init__(self, clock: FakeClock, lag: float) -> None:
        self.clock, self.lag, self.calls = clock, lag, []

    def take(self, cap, window):
        self.calls.append("take")
        if self.calls.count("take") == 1:
            self.clock.now += self.lag
        return 0.0, Ticket(len(self.calls), self.clock.now)

    def release(self, ticket):
        self.calls.append("release")

    def sent(self, ticket):
        self.calls.append("sent")

    def pause(self, seconds):
        pass


def test_an_entry_held_too_long_before_the_write_is_given_back_and_taken_again():
    clock = FakeClock()
    window = _SlowTake(clock, MAX_TAKE_LAG + 0.5)

    ticket = BudgetGate(window, lambda: 10, clock=clock).take()

    assert window.calls == ["take", "release", "take"]
    assert ticket.slot == 3


def test_an_interrupted_run_stops_waiting_for_the_budget_and_sends_nothing(tmp_path):
    window = FileWindow("h:1", tmp_path)
    _, ticket = window.take(1, 1.1)  # another request holds the only entry

    def sleep(seconds: float) -> None:
        stop_requests.set()

    try:
        with pytest.raises(ProviderUnavailable, match="interrupted"):
            BudgetGate(window, lambda: 1, sleep=sleep).take("h:1")
    finally:
        stop_requests.clear()
