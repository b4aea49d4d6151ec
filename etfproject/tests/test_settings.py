"""Settings read from the environment; production-like settings pass `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 64 + "-production-secret-for-the-check",
        ALLOWED_HOSTS="etfsync.example.com",
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_set(tmp_path):
    result = _run_manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)")

    assert result.stdout.strip() == "False", result.stderr


def test_serving_with_the_public_development_key_is_refused(tmp_path):
    result = _run_python("import etfproject.wsgi", SQLITE_PATH=str(tmp_path / "db.sqlite3"))

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_commands_run_without_a_secret_key(tmp_path):
    result = _run_manage("check", SQLITE_PATH=str(tmp_path / "db.sqlite3"))

    assert result.returncode == 0, result.stderr


def test_the_raw_database_url_is_not_kept_in_settings():
    result = _run_python(
        "import django; django.setup(); from django.conf import settings; print(hasattr(settings, 'DATABASE_URL'))",
        DATABASE_URL="postgres://etfsync:s3cret-pw@db.internal:5432/etfsync",
    )

    assert result.stdout.strip() == "False", result.stderr


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "etfproject.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_unparseable_boolean_names_the_variable(tmp_path):
    result = _run_manage("check", DEBUG="maybe", SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("postgres://u:p@db:5432/etf", "django.db.backends.postgresql"),
        ("timescale://u:p@db:5432/etf", "timescale.db.backends.postgresql"),
    ],
)
def test_database_url_scheme_selects_the_backend(url, engine):
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','etfproject.settings');"
        "from django.conf import settings; d=settings.DATABASES['default'];"
        "print(d['ENGINE'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [engine, "600", "True"]


def test_unsupported_database_url_scheme_is_refused():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = "mysql://u:p@db/etf"
    out = subprocess.run(
        [sys.executable, "-c", "import etfproject.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "use sqlite://, postgres:// or timescale://" in out.stderr
