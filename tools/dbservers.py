"""Throw-away database servers for the test tiers and benchmarks.

``postgres_cluster()`` runs initdb in a temporary directory and starts PostgreSQL 15 on a
free port; ``timescale_server()`` starts our Node wrapper around PGlite + TimescaleDB
(WebAssembly). Both yield a ``DATABASE_URL`` and stop and delete everything on exit, so
tests never depend on a server someone else started.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
TIMESCALE_DIR = ROOT / "tools" / "timescale"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f}s")


def _as_postgres_user() -> tuple[list[str], int | None, int | None]:
    """initdb refuses to run as root: drop to the 'postgres' system user when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    entry = pwd.getpwnam("postgres")
    return ["runuser", "-u", "postgres", "--"], entry.pw_uid, entry.pw_gid


@contextlib.contextmanager
def postgres_cluster(settings: dict[str, str] | None = None, keep_dir: Path | None = None) -> Iterator[str]:
    """Start a private PostgreSQL 15 cluster; yield its DATABASE_URL (database ``etfsync``)."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql-15)")
    prefix, uid, gid = _as_postgres_user()
    workdir = Path(keep_dir or tempfile.mkdtemp(prefix="etfsync-pg-"))
    workdir.mkdir(parents=True, exist_ok=True)
    datadir = workdir / "data"
    if uid is not None:
        os.chown(workdir, uid, gid)
    port = free_port()
    subprocess.run(
        [
            *prefix,
            str(PG_BIN / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "etfsync",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "-N",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{workdir}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "100",
        "shared_buffers": "256MB",
    }
    options.update(settings or {})
    with open(datadir / "postgresql.conf", "a") as conf:
        for key, value in options.items():
            conf.write(f"{key} = {value}\n")
    logfile = workdir / "server.log"
    subprocess.run(
        [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-l", str(logfile), "-w", "-t", "60", "start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        subprocess.run(
            [*prefix, str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "etfsync", "etfsync"],
            check=True,
        )
        yield f"postgres://etfsync@127.0.0.1:{port}/etfsync"
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def timescale_server(startup_timeout: float = 120.0) -> Iterator[str]:
    """Start a fresh in-memory TimescaleDB (PGlite/WASM); yield its DATABASE_URL.

    It serves one database to one connection at a time, so callers must never hold two.
    """
    if not (TIMESCALE_DIR / "node_modules").is_dir():
        raise RuntimeError(f"run 'npm ci' in {TIMESCALE_DIR} first (make install does it)")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="etfsync-timescale-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(["node", "server.mjs", str(port)], cwd=TIMESCALE_DIR, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, startup_timeout, proc)
        yield f"timescale://postgres:postgres@127.0.0.1:{port}/etfsync?sslmode=disable"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.unlink(log.name)
