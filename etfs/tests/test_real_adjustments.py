"""qfq served by our API equals East Money's real qfq, on real recorded series.

For each of the 11 ETFs with both a real raw series and East Money's real qfq series
(``recorded_host``), a whole backfill through the real East Money parser, then the API.
Before the qfq evidence, 6,462 of these 9,793 days were right (510880: 0 of 894).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from etfs.calendar import SHANGHAI
from etfs.models import SyncRun
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from etfs.tests.recorded_host import LAST_RAW_DAY, NAMES, raw_days, real_qfq, recorded_provider
from prices.models import CorporateAction

pytestmark = pytest.mark.django_db

# Days of each raw series that East Money's qfq series also has (515790 and 588000 listed late).
OVERLAP = {
    "159915": 893,
    "159928": 894,
    "510880": 894,
    "512010": 893,
    "512400": 894,
    "512800": 894,
    "512980": 894,
    "513500": 893,
    "515790": 863,
    "518880": 894,
    "588000": 887,
}


@pytest.fixture
def synced():
    provider = recorded_provider()
    run = run_sync(
        SyncOptions.parse("etfs"), provider=provider, now=dt.datetime.combine(LAST_RAW_DAY, dt.time(16), SHANGHAI)
    )
    assert run.status == SyncRun.Status.SUCCESS, run.message
    return provider, run


def _symbol(code: str) -> str:
    return f"{code}.{'SZ' if code.startswith('159') else 'SH'}"


def _api_qfq(client, code: str) -> dict[str, tuple[Decimal, ...]]:
    response = client.get(f"/api/instruments/{_symbol(code)}/bars/", {"adjust": "qfq", "page_size": 5000})
    assert response.status_code == 200, response.content
    return {
        row["date"]: tuple(
            Decimal(str(row[key])).quantize(Decimal("0.001")) for key in ("open", "high", "low", "close")
        )
        for row in response.json()["results"]
    }


@pytest.mark.parametrize("code", sorted(NAMES))
def test_qfq_through_the_api_equals_east_moneys_on_every_day(client, synced, code):
    ours, theirs = _api_qfq(client, code), real_qfq(code)

    overlap = [day for day in raw_days(code) if day in theirs]
    assert len(overlap) == OVERLAP[code]
    assert [day for day in overlap if ours[day] != theirs[day]] == []


def test_backfill_spends_the_list_and_two_requests_per_etf(synced):
    provider, run = synced

    assert run.requests == 1 + 2 * len(NAMES) + 1  # + the trading calendar's index, once (issue 13)
    etf_requests = [r for r in provider.clients.requests if "secid" in r and r["secid"] != "1.000001"]
    assert sorted(r["fqt"] for r in etf_requests) == ["0"] * 11 + ["1"] * 11


def test_splits_are_found_at_their_real_ratio_and_day(synced):
    splits = set(
        CorporateAction.objects.exclude(split_ratio=1).values_list("instrument__symbol", "ex_date", "split_ratio")
    )

    # 159928 and 512010 split 1:4 in June 2021, 513500 1:2 in March 2022 (raw jumps in the recordings).
    assert {(s, d, r) for s, d, r in splits if d <= LAST_RAW_DAY} == {
        ("159928.SZ", dt.date(2021, 6, 25), Decimal(4)),
        ("512010.SH", dt.date(2021, 6, 28), Decimal(4)),
        ("513500.SH", dt.date(2022, 3, 30), Decimal(2)),
    }
    assert set(CorporateAction.objects.values_list("source", flat=True)) == {CorporateAction.Source.PROVIDER}


def test_distributions_of_510880_are_read_to_the_tenth_of_a_fen(synced):
    found = list(
        CorporateAction.objects.filter(instrument__symbol="510880.SH", ex_date__lte=LAST_RAW_DAY).values_list(
            "ex_date", "cash"
        )
    )

    assert found == [
        (dt.date(2021, 1, 18), Decimal("0.141")),
        (dt.date(2022, 1, 17), Decimal("0.086")),
        (dt.date(2023, 1, 16), Decimal("0.138")),
        (dt.date(2024, 1, 23), Decimal("0.131")),
    ]


def test_distributions_after_the_raw_series_end_apply_to_it_as_one_step(synced):
    # East Money's qfq was recorded in 2026: it carries 510880's later distributions, which
    # our raw series (to 2024-07-11) cannot date; they act as one step after its last day.
    later = CorporateAction.objects.get(instrument__symbol="510880.SH", ex_date__gt=LAST_RAW_DAY)

    assert (later.ex_date, later.cash, later.split_ratio) == (dt.date(2024, 7, 12), Decimal("0.285"), 1)


# The fund split table as East Money would answer it for the real splits the recordings show
# (constructed: no real answer of the table was recorded; the days and ratios are the real ones).
REAL_SPLITS = {
    2021: [
        ["159928", "消费ETF", "2021-06-25", "份额分拆", "4", ""],
        ["512010", "医药ETF", "2021-06-28", "份额分拆", "4", ""],
    ],
    2022: [
        ["513500", "标普500", "2022-03-30", "份额分拆", "2", ""],
        ["000311", "景顺长城沪深300", "2022-05-20", "份额折算", "1.0234000000", ""],
    ],
}


def _sync_with_splits(rows: dict[int, list[list[str]]]) -> SyncRun:
    now = dt.datetime.combine(LAST_RAW_DAY, dt.time(16), SHANGHAI)
    run = run_sync(SyncOptions.parse("etfs"), provider=recorded_provider(rows), now=now)
    assert run.status == SyncRun.Status.SUCCESS, run.message
    return run


@pytest.mark.parametrize("code", ["159928", "512010", "513500"])
def test_the_split_tables_real_terms_fit_east_moneys_qfq_and_are_recorded_as_table(client, code):
    _sync_with_splits(REAL_SPLITS)

    split = CorporateAction.objects.exclude(split_ratio=1).get(instrument__symbol=_symbol(code))
    ours, theirs = _api_qfq(client, code), real_qfq(code)
    assert split.source == CorporateAction.Source.TABLE
    assert [day for day in raw_days(code) if day in theirs and ours[day] != theirs[day]] == []


def test_a_split_table_row_east_moneys_qfq_contradicts_is_not_taken(client):
    wrong = {2021: [["512010", "医药ETF", "2021-06-28", "份额分拆", "3.9", ""]]}
    _sync_with_splits(wrong)

    split = CorporateAction.objects.exclude(split_ratio=1).get(instrument__symbol="512010.SH")
    ours, theirs = _api_qfq(client, "512010"), real_qfq("512010")
    assert (split.split_ratio, split.source) == (Decimal(4), CorporateAction.Source.PROVIDER)
    assert [day for day in raw_days("512010") if day in theirs and ours[day] != theirs[day]] == []
