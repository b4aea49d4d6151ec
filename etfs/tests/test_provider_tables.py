"""East Money's tables of announced terms read through the provider, against the simulator: the
records are the simulated market's exact terms, every page is read, and each page is one request."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal as D

import pytest

from etfs.providers import eastmoney
from etfs.providers.base import AnnouncedRecord
from etfs.providers.eastmoney import FUND_SPLITS_REFERER, STOCK_BONUS_REFERER, EastMoneyProvider
from etfs.providers.errors import NotSupported, ProviderError
from etfs.providers.registry import FallbackProvider
from etfs.providers.tencent import TencentProvider
from etfs.simulator.market import ScheduledAction, SimConfig
from etfs.simulator.server import run_simulator
from etfs.simulator.tables import FUND_SPLITS_PATH, STOCK_BONUS_PATH
from etfs.tests.conftest import TEST_MARKETDATA

TODAY = dt.date(2024, 6, 28)
SCHEDULED = (
    ScheduledAction("159919", dt.date(2024, 1, 11), split_ratio=D("1.110680861"), trades=False),
    ScheduledAction("512010", dt.date(2024, 3, 14), split_ratio=D(4)),
    ScheduledAction("000002", dt.date(2024, 5, 16), cash_share=D("0.03"), split_ratio=D("1.3")),
    ScheduledAction("600036", dt.date(2024, 7, 10), cash_share=D("0.02")),  # a plan today: not a record
)


@pytest.fixture(scope="module")
def sim():
    with run_simulator(SimConfig(n_etfs=6, n_stocks=5, years=1, today=TODAY, seed=3, scheduled=SCHEDULED)) as running:
        yield running


@pytest.fixture
def provider(sim, settings):
    settings.MARKETDATA = {**settings.MARKETDATA, **sim.table_urls(), **TEST_MARKETDATA, "MAX_ATTEMPTS": 2}
    sim.request_log.clear()
    made = EastMoneyProvider()
    yield made
    made.close()


def truth(sim, *, etfs: bool) -> list[AnnouncedRecord]:
    records = [
        AnnouncedRecord(inst.symbol.code, action.ex_date, action.cash, action.split_ratio)
        for inst in sim.market.instruments()
        if inst.is_etf == etfs
        for action in inst.actions
        if not etfs or action.split_ratio != 1
    ]
    return sorted(records, key=lambda r: (r.ex_date, r.code))


def test_fund_splits_of_a_year_are_the_simulated_terms_exactly(sim, provider):
    records = provider.fetch_fund_splits(2024)

    ours = [record for record in records if record.code in sim.market.codes()]
    assert ours == [record for record in truth(sim, etfs=True) if record.ex_date.year == 2024]
    assert AnnouncedRecord("159919", dt.date(2024, 1, 11), split_ratio=D("1.110680861")) in ours


def test_fund_splits_reads_every_page_one_request_each(sim, provider):
    records = provider.fetch_fund_splits(2023)

    pages = math.ceil(len(records) / 100)
    assert pages >= 2  # the filler: funds the simulator does not list
    assert provider.stats.requests == pages
    asked = sim.requests(FUND_SPLITS_PATH)
    assert [entry.query["page"] for entry in asked] == [str(n) for n in range(1, pages + 1)]
    assert {(entry.query["year"], entry.query["dt"], entry.referer) for entry in asked} == {
        ("2023", "9", FUND_SPLITS_REFERER)
    }


def test_fund_splits_of_an_empty_year_cost_one_request(provider):
    assert provider.fetch_fund_splits(2003) == []
    assert provider.stats.requests == 1


def test_stock_bonuses_are_the_simulated_terms_exactly(sim, provider):
    codes = [inst.symbol.code for inst in sim.market.instruments() if not inst.is_etf]

    records = provider.fetch_stock_bonuses(codes)

    assert records == truth(sim, etfs=False)
    assert [r.split_ratio for r in records if (r.code, r.ex_date) == ("000002", dt.date(2024, 5, 16))] == [D("1.3")]
    assert provider.stats.requests == 1
    (entry,) = sim.requests(STOCK_BONUS_PATH)
    assert entry.referer == STOCK_BONUS_REFERER
    assert entry.query["filter"] == "(SECURITY_CODE in (" + ",".join(f'"{c}"' for c in codes) + "))"


def test_stock_bonuses_read_every_page(sim, provider, monkeypatch):
    monkeypatch.setattr(eastmoney, "STOCK_BONUS_PAGE_SIZE", 2)
    codes = [inst.symbol.code for inst in sim.market.instruments() if not inst.is_etf]

    records = provider.fetch_stock_bonuses(codes)

    assert records == truth(sim, etfs=False)
    rows = len(records) + 1  # and the plan of 600036, which has no ex-date yet
    assert provider.stats.requests == math.ceil(rows / 2) >= 3


def test_stock_bonuses_ask_at_most_50_codes_a_request(sim, provider):
    codes = [f"{600100 + n}" for n in range(120)] + ["000002"]

    records = provider.fetch_stock_bonuses(codes)

    assert {record.code for record in records} == {"000002"}
    assert [entry.query["filter"].count('"') // 2 for entry in sim.requests(STOCK_BONUS_PATH)] == [50, 50, 21]


def test_stock_bonuses_of_no_codes_send_nothing(provider):
    assert provider.fetch_stock_bonuses([]) == []
    assert provider.stats.requests == 0


def test_stock_bonuses_refuse_a_code_that_is_not_six_digits(provider):
    with pytest.raises(ValueError, match="'60000'"):
        provider.fetch_stock_bonuses(["600000", "60000"])


def test_table_outage_fails_after_retries_naming_the_host(sim, provider):
    sim.config.outages.add("eastmoney_fund_splits")
    try:
        with pytest.raises(ProviderError, match="gave up after 2 attempts.*HTTP 503") as caught:
            provider.fetch_fund_splits(2024)
    finally:
        sim.config.outages.discard("eastmoney_fund_splits")

    assert caught.value.host == sim.base_url.removeprefix("http://")
    assert provider.stats.requests == 2


def test_fallback_skips_providers_without_the_table(sim, provider):
    chain = FallbackProvider([TencentProvider(), provider])

    assert chain.fetch_stock_bonuses(["000002"]) == [r for r in truth(sim, etfs=False) if r.code == "000002"]


@pytest.mark.parametrize("method", ["fetch_fund_splits", "fetch_stock_bonuses"])
def test_a_chain_without_the_table_says_not_supported(method):
    argument = 2024 if method == "fetch_fund_splits" else ["000002"]

    with pytest.raises(NotSupported, match="none of tencent has a"):
        getattr(FallbackProvider([TencentProvider()]), method)(argument)
