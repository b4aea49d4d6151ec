"""One request budget per host for every process: two syncs at once stay within the setting."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import socket
import subprocess
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from etfs.providers.sharedlimit import DatabaseWindow, FallbackWindow, FileWindow, RedisWindow, budget
from etfs.simulator.index import INDEX_SECID
from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator
from etfs.tests.processes import busiest_window, not_on_timescale, only_on_sqlite, simulator_env, wait_until

TODAY = dt.date(2024, 6, 28)
NOW = f"{TODAY.isoformat()}T16:00:00+08:00"
# The host refuses the 9th request of any second; each sync is set to 6 a second. Shared, the
# two stay at 6 (a send that leaves a second late on a loaded machine still finds the host's
# headroom); each on its own, they send up to 12 and the host refuses some.
HOST_LIMIT = 8
RATE = 6


def _take_starts(directory: str, count: int, rate: float, out) -> None:
    """Take ``count`` starts from the file budget and report the time each was recorded at:
    the budget's own clock reading, not a later one (a process paused between the two on a
    busy machine would report starts closer together than they were)."""
    from etfs.providers import sharedlimit

    readings: list[float] = []

    def monotonic() -> float:
        readings.append(time.monotonic())
        return readings[-1]

    sharedlimit.time = types.SimpleNamespace(monotonic=monotonic)  # the budget's clock, in this child only
    window = FileWindow("quote.example:80", Path(directory))
    for _ in range(count):
        while (wait := window.try_start(*budget(rate))) > 0:
            time.sleep(wait)
        out.put(readings[-1])


@only_on_sqlite
def test_file_budget_holds_across_processes(tmp_path):
    rate, per_process = 10, 6
    ctx = multiprocessing.get_context("fork")  # a spawned child would import Django again: seconds
    queue = ctx.Queue()
    workers = [ctx.Process(target=_take_starts, args=(str(tmp_path), per_process, rate, queue)) for _ in range(3)]
    for worker in workers:
        worker.start()
    starts = [queue.get(timeout=60) for _ in range(3 * per_process)]
    for worker in workers:
        worker.join(timeout=60)

    assert busiest_window(starts, 1.0) <= rate


def test_file_budget_pause_holds_everyone_back(tmp_path):
    first, second = FileWindow("h:1", tmp_path), FileWindow("h:1", tmp_path)
    assert first.try_start(5, 1.05) == 0.0

    second.pause(30)

    assert 29 < first.try_start(5, 1.05) <= 30


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


def _limited_host(n_etfs: int = 8, n_stocks: int = 8):
    return run_simulator(
        SimConfig(n_etfs=n_etfs, n_stocks=n_stocks, years=1, today=TODAY, seed=3, latency=0.01, rps_limit=HOST_LIMIT)
    )


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
    assert busiest_window([entry.time for entry in log]) <= HOST_LIMIT
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
def test_database_budget_refuses_a_start_beyond_the_cap_until_the_window_passes(database_window):
    window = database_window("budget")

    starts = [window.try_start(3, 1.05) for _ in range(3)]
    wait = window.try_start(3, 1.05)

    assert starts == [0.0, 0.0, 0.0]
    assert 0.5 < wait <= 1.05


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_budget_pause_holds_everyone_back(database_window):
    window = database_window("pause")
    assert window.try_start(5, 1.05) == 0.0

    window.pause(30)

    assert 29 < window.try_start(5, 1.05) <= 30


def test_redis_budget_refuses_a_start_beyond_the_cap_and_honours_a_pause(redis_url, settings):
    settings.Q_REDIS_URL = redis_url
    window = RedisWindow("quote.example:80", redis_url)

    starts = [window.try_start(3, 1.05) for _ in range(3)]
    wait = window.try_start(3, 1.05)
    window.pause(30)

    assert starts == [0.0, 0.0, 0.0]
    assert 0.5 < wait <= 1.05
    assert 29 < window.try_start(3, 1.05) <= 30


def test_an_unreachable_redis_falls_back_to_the_file_budget(tmp_path, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    window = FallbackWindow(
        RedisWindow("quote.example:80", f"redis://127.0.0.1:{port}/0"),
        FileWindow("quote.example:80", tmp_path),
        "Redis",
    )

    starts = [window.try_start(2, 1.1) for _ in range(3)]

    assert starts[:2] == [0.0, 0.0] and starts[2] > 0  # the file budget still paces
    assert "the Redis request budget failed" in caplog.text
