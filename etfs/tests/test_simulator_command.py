from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from etfs.management.commands import marketdata_simulator


@pytest.fixture
def served(monkeypatch) -> dict:
    """Replace the command's wait-for-Ctrl-C: make one request to the printed URL, then interrupt."""
    seen: dict = {"out": io.StringIO()}

    def one_request_then_interrupt() -> None:
        lines = seen["out"].getvalue().splitlines()
        seen["url"] = next(line.split("=", 1)[1] for line in lines if line.startswith("export EASTMONEY_KLINE_URL="))
        seen["status"] = requests.get(seen["url"], params={"secid": "1.510300"}, timeout=5).status_code
        raise KeyboardInterrupt

    monkeypatch.setattr(marketdata_simulator, "wait_for_interrupt", one_request_then_interrupt)
    return seen


def test_command_serves_and_prints_the_urls_to_export(served):
    args = ["--port", "0", "--etfs", "3", "--stocks", "1", "--years", "1", "--today", "2024-06-28"]

    call_command("marketdata_simulator", *args, stdout=served["out"])

    text = served["out"].getvalue()
    assert "Simulating 3 ETFs and 1 stocks up to 2024-06-28 at http://127.0.0.1:" in text
    assert "export EASTMONEY_LIST_URL=http://127.0.0.1:" in text and "export TENCENT_KLINE_URL=http://" in text
    assert served["status"] == 200
    assert "Stopping the simulator." in text


def test_command_stops_serving_on_interrupt(served):
    call_command("marketdata_simulator", "--port", "0", "--etfs", "1", "--stocks", "0", stdout=served["out"])

    with pytest.raises(requests.ConnectionError):
        requests.get(served["url"], params={"secid": "1.510300"}, timeout=5)


def test_command_serves_poisoned_answers(monkeypatch):
    seen: dict = {"out": io.StringIO()}

    def one_request_then_interrupt() -> None:
        lines = seen["out"].getvalue().splitlines()
        url = next(line.split("=", 1)[1] for line in lines if line.startswith("export EASTMONEY_LIST_URL="))
        seen["total"] = requests.get(url, params={"fs": "b:MK0021", "pn": 1}, timeout=5).json()["data"]["total"]
        raise KeyboardInterrupt

    monkeypatch.setattr(marketdata_simulator, "wait_for_interrupt", one_request_then_interrupt)
    args = ["--port", "0", "--etfs", "2", "--stocks", "0", "--years", "1", "--poison", "million-rows"]

    call_command("marketdata_simulator", *args, stdout=seen["out"])

    assert seen["total"] == 1_000_000


def test_command_refuses_an_unknown_poison():
    with pytest.raises(CommandError, match="unknown poison arsenic"):
        call_command("marketdata_simulator", "--poison", "arsenic", stdout=io.StringIO())
