"""Exact terms from the provider's tables where qfq leaves them open (``etfs.sync.announced``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal

import pytest

from etfs.providers.base import PriceTicks
from etfs.providers.errors import BadPayload
from etfs.simulator.market import ScheduledAction, SimConfig, SimMarket
from etfs.sync.actions import Findings, Source, record_actions
from etfs.sync.announced import Terms, TermsBook, pin_with_tables
from etfs.sync.steps import find_actions, mismatched_days
from etfs.tests.factories import InstrumentFactory
from prices.adjustments import Action
from prices.models import AnnouncedSplit, AnnouncedYear, CorporateAction

TODAY = dt.date(2024, 6, 28)


@dataclasses.dataclass(frozen=True)
class Row:
    """A table row, shaped as the providers give it."""

    code: str
    ex_date: dt.date
    cash: Decimal = Decimal(0)
    split_ratio: Decimal = Decimal(1)


MARKET = SimMarket(SimConfig(n_etfs=60, n_stocks=20, years=4, today=TODAY, seed=11))


def simulated(symbol: str, market: SimMarket = MARKET):
    """raw, qfq and hfq of one simulated instrument, and its actions."""
    inst = market.instrument(symbol)
    series = (PriceTicks.from_bars(market.bars(symbol, adjust), inst.decimals) for adjust in ("none", "qfq", "hfq"))
    return (*series, inst.actions)


def table_of(actions, code: str, *, cash: bool) -> Terms:
    rows = [Row(code, a.ex_date, a.cash if cash else Decimal(0), a.split_ratio) for a in actions]
    return Terms(tuple(r for r in rows if cash or r.split_ratio != 1), cash=cash)


def test_an_odd_conversion_takes_the_tables_ratio_and_hfq_follows():
    raw, qfq, hfq, truth = simulated("588000.SH")  # converted at 1.110680861 on 2022-05-13, no bar that day
    found = find_actions(raw, qfq)
    assert mismatched_days(raw, hfq, found, "hfq")  # qfq alone leaves the ratio's last decimals open

    pinned, tabled = pin_with_tables(raw, qfq, found, table_of(truth, "588000", cash=False))

    assert mismatched_days(raw, qfq, pinned, "qfq") == mismatched_days(raw, hfq, pinned, "hfq") == []
    assert dt.date(2022, 5, 16) in tabled  # found, and kept, on the next bar


def test_a_reverse_conversion_takes_the_tables_ratio():
    raw, qfq, hfq, truth = simulated("159919.SZ")  # 0.380231127 on 2022-03-09
    found = find_actions(raw, qfq)
    assert mismatched_days(raw, hfq, found, "hfq")

    pinned, _ = pin_with_tables(raw, qfq, found, table_of(truth, "159919", cash=False))

    assert mismatched_days(raw, hfq, pinned, "hfq") == []


def test_a_stocks_cash_below_its_quote_takes_the_tables_amount():
    raw, qfq, hfq, truth = simulated("000001.SZ")  # four payments such as 0.051 on a 0.01 quote
    found = find_actions(raw, qfq)
    assert mismatched_days(raw, hfq, found, "hfq")

    pinned, tabled = pin_with_tables(raw, qfq, found, table_of(truth, "000001", cash=True))

    assert mismatched_days(raw, hfq, pinned, "hfq") == []
    assert tabled == {a.ex_date for a in truth}


def test_a_stocks_cash_and_bonus_shares_on_one_day_take_the_tables_terms():
    raw, qfq, hfq, truth = simulated("600519.SH")  # 15.37 cash with a 1:1.3 bonus issue on 2023-02-28
    found = find_actions(raw, qfq)

    pinned, _ = pin_with_tables(raw, qfq, found, table_of(truth, "600519", cash=True))

    assert mismatched_days(raw, hfq, pinned, "hfq") == []


def test_a_table_row_the_qfq_series_contradicts_is_not_taken():
    raw, qfq, _, _ = simulated("588000.SH")
    found = find_actions(raw, qfq)
    wrong = Terms((Row("588000", dt.date(2022, 5, 13), split_ratio=Decimal("1.2")),), cash=False)

    pinned, tabled = pin_with_tables(raw, qfq, found, wrong)

    assert (pinned, tabled) == (found, set())


def test_the_split_table_never_changes_the_cash_the_series_found():
    both = ScheduledAction("159949", dt.date(2024, 7, 11), cash_share=Decimal("0.01"), split_ratio=Decimal(3))
    market = SimMarket(SimConfig(n_etfs=12, n_stocks=0, years=2, today=TODAY, seed=11, scheduled=(both,)))
    market.set_today(dt.date(2024, 7, 17))
    raw, qfq, _, truth = simulated("159949.SZ", market)
    found = find_actions(raw, qfq)

    pinned, _ = pin_with_tables(raw, qfq, found, table_of(truth, "159949", cash=False))

    assert [a.cash for a in pinned] == [a.cash for a in found]
    assert mismatched_days(raw, qfq, pinned, "qfq") == []


def test_rows_outside_the_series_are_ignored():
    raw, qfq, _, _ = simulated("000001.SZ")
    found = find_actions(raw, qfq)
    rows = (Row("000001", raw.days[0], Decimal("0.5")), Row("000001", dt.date(2030, 1, 2), Decimal("1")))
    outside = Terms(rows, cash=True)

    assert pin_with_tables(raw, qfq, found, outside) == (found, set())


class TableHost:
    """A provider with the two tables, counting requests; ``fail`` years answer garbage."""

    def __init__(self, years: dict[int, list[Row]], stocks: list[Row] = (), fail: set[int] = frozenset()) -> None:
        self.years, self.stocks, self.fail = years, list(stocks), fail
        self.split_requests: list[int] = []
        self.stock_requests: list[list[str]] = []
        self.lock = threading.Lock()

    def fetch_fund_splits(self, year: int) -> list[Row]:
        with self.lock:
            self.split_requests.append(year)
        if year in self.fail:
            raise BadPayload(f"garbage for {year}")
        return self.years.get(year, [])

    def fetch_stock_bonuses(self, codes) -> list[Row]:
        self.stock_requests.append(list(codes))
        return [row for row in self.stocks if row.code in codes]


CONVERSION = Row("159919", dt.date(2019, 1, 11), split_ratio=Decimal("1.1106808610"))
SPLIT_2021 = Row("512010", dt.date(2021, 6, 28), split_ratio=Decimal(4))


def splits(year: int) -> list[Action]:
    return [Action(dt.date(year, 6, 1), split_ratio=Decimal("1.5"))]


@pytest.mark.django_db
def test_a_split_year_is_fetched_once_however_many_funds_ask():
    host = TableHost({2019: [CONVERSION, Row("000001", dt.date(2019, 3, 1), split_ratio=Decimal(2))]})
    book = TermsBook(host, today=TODAY, stocks=False)
    answers: list[Terms | None] = []
    threads = [
        threading.Thread(target=lambda: answers.append(book.terms_for("159919", splits(2019)))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert host.split_requests == [2019]
    assert {answer.records for answer in answers if answer} == {(CONVERSION,)}


@pytest.mark.django_db
def test_a_finished_year_is_stored_and_never_fetched_again():
    host = TableHost({2019: [CONVERSION], 2021: [SPLIT_2021]})
    first = TermsBook(host, today=TODAY, stocks=False)
    first.terms_for("512010", [*splits(2019), *splits(2021)])
    first.save()

    later = TermsBook(host, today=TODAY + dt.timedelta(days=30), stocks=False)
    later.load_stored_splits()
    terms = later.terms_for("512010", splits(2021))

    assert host.split_requests == [2019, 2021]
    assert terms is not None and [(r.code, r.ex_date, r.cash, r.split_ratio) for r in terms.records] == [
        ("512010", dt.date(2021, 6, 28), Decimal(0), Decimal(4))
    ]
    assert set(AnnouncedYear.objects.values_list("year", "rows")) == {(2019, 1), (2021, 1)}
    assert AnnouncedSplit.objects.count() == 2


@pytest.mark.django_db
def test_the_current_years_table_is_read_again_on_a_later_day():
    host = TableHost({2024: []})
    book = TermsBook(host, today=TODAY, stocks=False)
    book.terms_for("510300", splits(2024))
    book.save()
    same_day = TermsBook(host, today=TODAY, stocks=False)
    same_day.load_stored_splits()
    same_day.terms_for("510300", splits(2024))
    next_day = TermsBook(host, today=TODAY + dt.timedelta(days=1), stocks=False)
    next_day.load_stored_splits()

    next_day.terms_for("510300", splits(2024))

    assert host.split_requests == [2024, 2024]


@pytest.mark.django_db
def test_an_unreadable_year_is_asked_once_and_leaves_the_terms_open():
    host = TableHost({}, fail={2019})
    book = TermsBook(host, today=TODAY, stocks=False)

    answers = [book.terms_for("159919", splits(2019)) for _ in range(3)]
    book.save()

    assert answers == [None, None, None]
    assert host.split_requests == [2019]
    assert len(book.failures) == 1 and "fund split table of 2019 unreadable: garbage for 2019" in book.failures[0]
    assert not AnnouncedYear.objects.exists()


def test_funds_without_a_split_ask_for_no_table():
    host = TableHost({2019: [CONVERSION]})
    book = TermsBook(host, today=TODAY, stocks=False)

    assert book.terms_for("510300", [Action(dt.date(2019, 6, 3), cash=Decimal("0.05"))]) is None
    assert host.split_requests == []


def test_the_stock_table_is_read_fifty_codes_a_request():
    codes = [f"{600000 + i}" for i in range(120)]
    host = TableHost({}, stocks=[Row("600003", dt.date(2023, 7, 3), Decimal("0.235"))])
    book = TermsBook(host, today=TODAY, stocks=True)

    book.fetch_stocks(codes)

    assert [len(chunk) for chunk in host.stock_requests] == [50, 50, 20]
    assert book.terms_for("600003", [Action(dt.date(2023, 7, 3), cash=Decimal("0.24"))]) == Terms(
        (Row("600003", dt.date(2023, 7, 3), Decimal("0.235")),), cash=True
    )
    assert book.terms_for("600004", [Action(dt.date(2023, 7, 3), cash=Decimal("0.1"))]) == Terms((), cash=True)


@pytest.mark.django_db
def test_a_tables_terms_are_recorded_as_table_and_keep_that_label_when_the_series_agrees():
    instrument = InstrumentFactory(symbol="159919.SZ")
    action = Action(dt.date(2019, 1, 14), split_ratio=Decimal("1.1106808610"))
    record_actions({instrument.pk: Findings([action], sources={action.ex_date: Source.TABLE})})

    record_actions({instrument.pk: Findings([action])})  # a later reading of the series, same terms

    assert list(CorporateAction.objects.values_list("source", flat=True)) == [Source.TABLE]
