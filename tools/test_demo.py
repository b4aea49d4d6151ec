"""The demo never touches the database a real sync uses."""

from __future__ import annotations

from types import SimpleNamespace

from tools.demo import DEMO_DATABASE, ROOT, demo_env


def test_demo_uses_its_own_database_file_not_the_real_syncs(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://etfsync@db/etfsync")
    sim = SimpleNamespace(
        list_url="http://l", kline_url="http://k", tencent_url="http://t", fund_env=dict, table_urls=dict
    )

    env = demo_env(sim)

    assert env["SQLITE_PATH"] == str(DEMO_DATABASE) == str(ROOT / "demo.sqlite3")
    assert "DATABASE_URL" not in env
    assert env["DEBUG"] == "1"
