"""Throw-away database servers for the test tiers and benchmarks.

``postgres_cluster()`` runs initdb in a temporary directory and starts PostgreSQL 15 on a
free port; ``timescale_cluster()`` does the same with the TimescaleDB extension preloaded
(the native TimescaleDB 2.28.3 build in ``tools/timescaledb/``). Both yield a
``DATABASE_URL`` and stop and delete everything on exit, so tests never depend on a server
someone else started.

Where TimescaleDB comes from (``timescale_bin()``): ``$TIMESCALE_PG_BIN`` when set; else the
system server (``$PG_BIN``) when the extension is installed there (``make install`` does it as
root: ``tools/timescaledb/install.sh``); else a private PostgreSQL tree with the extension in
``var/pg15-timescaledb`` (made by the same installer without root, about 35 MB, on first use).
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
TIMESCALEDB_DIR = ROOT / "tools" / "timescaledb"
PRIVATE_TREE = ROOT / "var" / "pg15-timescaledb"
TIMESCALE_SETTINGS = {
    "shared_preload_libraries": "'timescaledb'",
    "timescaledb.telemetry_level": "off",
    # No background jobs: the compression and refresh policies exist (migrate adds them) but
    # run only when called (``CALL run_job(id)``), so neither a test nor a benchmark finds its
    # chunks compressed or its aggregates refreshed behind its back.
    "timescaledb.max_background_workers": "0",
}


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
def postgres_cluster(
    settings: dict[str, str] | None = None,
    keep_dir: Path | None = None,
    *,
    bin_dir: Path | None = None,
    scheme: str = "postgres",
) -> Iterator[str]:
    """Start a private PostgreSQL 15 cluster; yield its DATABASE_URL (database ``etfsync``).

    ``bin_dir`` is where ``initdb``/``pg_ctl`` live (default ``$PG_BIN``); ``scheme`` is the
    URL's (``timescale`` selects the TimescaleDB backend).
    """
    pg_bin = bin_dir or PG_BIN
    if not (pg_bin / "initdb").exists():
        raise RuntimeError(f"PostgreSQL binaries not found in {pg_bin} (apt-get install postgresql-15)")
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
            str(pg_bin / "initdb"),
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
    started = subprocess.run(
        [*prefix, str(pg_bin / "pg_ctl"), "-D", str(datadir), "-l", str(logfile), "-w", "-t", "60", "start"],
        stdout=subprocess.DEVNULL,
    )
    if started.returncode != 0:
        log = logfile.read_text(errors="replace")[-2000:] if logfile.exists() else ""
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"the server in {datadir} did not start:\n{log}")
    try:
        subprocess.run(
            [*prefix, str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "etfsync", "etfsync"],
            check=True,
        )
        yield f"{scheme}://etfsync@127.0.0.1:{port}/etfsync"
    finally:
        subprocess.run(
            [*prefix, str(pg_bin / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _has_timescaledb(bin_dir: Path) -> bool:
    """Whether the server in ``bin_dir`` can load TimescaleDB (its ``.so`` and control file)."""
    pg_config = bin_dir / "pg_config"
    if not pg_config.exists():
        return False
    try:
        libdir, sharedir = subprocess.run(
            [str(pg_config), "--pkglibdir", "--sharedir"], capture_output=True, text=True, check=True
        ).stdout.split()
    except (subprocess.CalledProcessError, ValueError):
        return False
    control = Path(sharedir) / "extension" / "timescaledb.control"
    return (Path(libdir) / "timescaledb.so").exists() and control.exists()


def timescale_bin() -> Path:
    """The bin directory of a PostgreSQL 15 server with TimescaleDB, installing one if needed.

    Without root the installer builds a private tree under ``var/`` (once; later calls find it).
    """
    configured = os.environ.get("TIMESCALE_PG_BIN")
    if configured:
        if not _has_timescaledb(Path(configured)):
            raise RuntimeError(f"TIMESCALE_PG_BIN={configured}: no TimescaleDB there (tools/timescaledb/install.sh)")
        return Path(configured)
    if _has_timescaledb(PG_BIN):
        return PG_BIN
    private_bin = PRIVATE_TREE / "lib" / "postgresql" / "15" / "bin"
    if not _has_timescaledb(private_bin):
        if os.geteuid() == 0:
            raise RuntimeError("TimescaleDB is not installed: run tools/timescaledb/install.sh (make install does)")
        result = subprocess.run(
            ["bash", str(TIMESCALEDB_DIR / "install.sh"), str(PRIVATE_TREE)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"tools/timescaledb/install.sh {PRIVATE_TREE} failed:\n{result.stderr}")
        private_bin = Path(result.stdout.strip())
    return private_bin


@contextlib.contextmanager
def timescale_cluster(settings: dict[str, str] | None = None, keep_dir: Path | None = None) -> Iterator[str]:
    """A throw-away PostgreSQL 15 cluster with TimescaleDB preloaded; yields a ``timescale://`` URL.

    A native server: any number of connections, ``COPY``, background jobs (policies). The
    database gets the extension from the first ``migrate`` (the backend creates it).
    """
    options = {**TIMESCALE_SETTINGS, **(settings or {})}
    with postgres_cluster(options, keep_dir, bin_dir=timescale_bin(), scheme="timescale") as url:
        yield url
