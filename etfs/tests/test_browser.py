"""The issue's "done when": a curator's session in headless Chromium, checked in the page itself.

Debian's ``/usr/bin/chromium`` driven by Playwright's Python package (never ``playwright
install``: nothing downloads a browser). The admin runs in pytest-django's live server, its
data synced from our market-data simulator. The live server thread uses its own database
connection: the test runs on the PostgreSQL and TimescaleDB tiers (native servers).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connections

from etfs.models import Instrument, SyncRun
from etfs.simulator.market import SimConfig
from etfs.simulator.server import run_simulator
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "curator-password"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.browser,
]


@pytest.fixture
def market(settings):
    """A small simulated market the providers point at, synced once into the database."""
    with run_simulator(SimConfig(n_etfs=3, n_stocks=2, years=1, seed=7)) as sim:
        settings.MARKETDATA = {
            **settings.MARKETDATA,
            "EASTMONEY_LIST_URL": sim.list_url,
            "EASTMONEY_KLINE_URL": sim.kline_url,
            "TENCENT_KLINE_URL": sim.tencent_url,
            **sim.table_urls(),
            "RATE_LIMIT": 1000.0,
            "BACKOFF_BASE": 0.01,
            "BACKOFF_MAX": 0.05,
            "READ_TIMEOUT": 2.0,
        }
        for kind in (SyncRun.Kind.ETFS, SyncRun.Kind.STOCKS):
            assert run_sync(SyncOptions.parse(kind)).status == SyncRun.Status.SUCCESS
        connections.close_all()  # see ``page``: the test body gets a connection of its own
        yield sim


@pytest.fixture
def page(monkeypatch):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    # Playwright's sync API runs an event loop in this thread: Django then refuses ORM calls
    # unless told they are safe (they are: plain synchronous code), and hands out a separate
    # connection, which is closed here before the test database is flushed and dropped.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        yield context.new_page()
        connections.close_all()
        context.close()
        browser.close()


@pytest.mark.django_db(transaction=True)
def test_curator_filters_searches_sees_the_chart_and_syncs(live_server, market, page, django_user_model):
    django_user_model.objects.create_superuser("curator", "curator@example.com", PASSWORD)
    etf = Instrument.objects.etfs().order_by("symbol").first()
    etf_count = Instrument.objects.etfs().count()
    runs_before = SyncRun.objects.count()

    page.goto(f"{live_server.url}/admin/login/?next=/admin/etfs/instrument/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")

    page.locator('details[data-filter-title="ETF"] a', has_text="Yes").click()
    page.wait_for_url(re.compile(r"is_etf__exact=1"))
    assert page.locator("#result_list tbody tr").count() == etf_count
    page.screenshot(path=str(SCREENSHOTS / "1-etfs.png"), full_page=True)

    page.fill("#searchbar", etf.code)
    page.press("#searchbar", "Enter")
    page.wait_for_url(re.compile(rf"q={etf.code}"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.locator("th a").click()

    chart = page.wait_for_selector("svg.price-chart polyline.chart-close")
    drawn = chart.evaluate(
        "line => ({points: line.points.numberOfItems, length: line.getTotalLength(), width: line.getBBox().width})"
    )
    assert drawn["points"] > 100
    assert drawn["length"] > 0
    assert drawn["width"] > 300
    assert page.locator("svg.price-chart path.chart-volume").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "2-instrument-chart.png"), full_page=True)

    page.click("a.chart-range[data-range='3M']")
    page.wait_for_url(re.compile(r"range=3M"))
    three_months = page.locator("svg.price-chart polyline.chart-close").evaluate("line => line.points.numberOfItems")
    assert 40 < three_months < drawn["points"]

    page.goto(f"{live_server.url}/admin/etfs/instrument/?q={etf.code}")
    page.check("#result_list tbody tr input.action-select")
    page.select_option("select[name=action]", "sync_prices_now")
    page.click("button[name=index]")
    message = page.wait_for_selector(".messagelist li")
    assert re.search(r"ETFs sync #\d+ for 1 instrument\(s\): success", message.inner_text())

    page.click(".messagelist li a")
    page.wait_for_selector(".syncrun-status")
    assert page.locator(".syncrun-status").inner_text() == "Success"
    page.goto(f"{live_server.url}/admin/etfs/syncrun/?trigger__exact=admin")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "curator" in page.locator("#result_list tbody tr").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "3-sync-runs.png"), full_page=True)

    new_run = SyncRun.objects.get(trigger=SyncRun.Trigger.ADMIN)
    assert SyncRun.objects.count() == runs_before + 1
    assert (new_run.triggered_by, new_run.parameters["symbols"]) == ("curator", [etf.symbol])
    assert new_run.status == SyncRun.Status.SUCCESS
