"""The trading calendar stored from the provider: it outlives ``exchange_calendars``' last year."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

from etfs import calendar
from etfs.api.health import health_report
from etfs.calendar import SHANGHAI, exchange_sessions
from etfs.models import CalendarDay, Instrument, SyncRun
from etfs.simulator import sessions as sim_sessions
from etfs.simulator.server import KLINE_PATH
from etfs.sync.options import SyncOptions
from etfs.sync.service import run_sync
from etfs.tests.factories import InstrumentFactory, make_bars
from etfs.tests.recorded_host import LAST_RAW_DAY, recorded_provider
from etfs.views import build_landing_summary, find_gaps

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
# A weekday of 2027 that the simulated host keeps as a holiday (Spring Festival); exchange_calendars
# 4.13 knows nothing after 2026-12-31, so without stored sessions it counts as a trading day.
HOLIDAY_2027 = dt.date(2027, 2, 9)


def after_close(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(16, 0), tzinfo=SHANGHAI)


def store(days: dict[dt.date, bool]) -> None:
    CalendarDay.objects.bulk_create(CalendarDay(date=d, is_session=s) for d, s in days.items())
    calendar.refresh()


def every_day(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def index_requests(sim) -> list:
    return [r for r in sim.requests(KLINE_PATH) if r.query.get("secid") == "1.000001"]


def sync(sim, kind: str = "etfs") -> SyncRun:
    return run_sync(SyncOptions.parse(kind, workers=2), now=after_close(sim.today))


# --- the calendar module ---------------------------------------------------------------------------
def test_stored_sessions_win_over_exchange_calendars_inside_their_range():
    june = every_day(dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    store({day: day.weekday() < 5 and day != dt.date(2024, 6, 12) for day in june})

    assert not calendar.is_trading_day(dt.date(2024, 6, 12))  # the provider said closed
    assert calendar.is_trading_day(dt.date(2024, 6, 11))
    assert calendar.is_trading_day(dt.date(2024, 7, 1))  # outside: exchange_calendars


def test_stored_sessions_decide_after_exchange_calendars_ends():
    store({day: sim_sessions.is_session(day) for day in every_day(dt.date(2027, 1, 1), HOLIDAY_2027)})

    assert exchange_sessions()[-1] < dt.date(2027, 1, 1)
    assert not calendar.is_trading_day(HOLIDAY_2027)
    assert calendar.last_final_trading_day(after_close(HOLIDAY_2027)) == dt.date(2027, 2, 4)
    assert calendar.trading_days(dt.date(2027, 2, 1), HOLIDAY_2027) == [dt.date(2027, 2, d) for d in (1, 2, 3, 4)]


def test_calendar_is_cached_not_a_query_per_call(django_assert_num_queries):
    store({day: day.weekday() < 5 for day in every_day(dt.date(2024, 6, 1), dt.date(2024, 6, 30))})
    calendar.is_trading_day(dt.date(2024, 6, 3))  # loads once

    with django_assert_num_queries(0):
        for day in every_day(dt.date(2024, 1, 1), dt.date(2024, 12, 31)):
            calendar.is_trading_day(day)
        calendar.trading_days(dt.date(2020, 1, 1), dt.date(2024, 12, 31))


def test_without_a_database_the_calendar_uses_exchange_calendars(monkeypatch):
    calendar.reset()
    monkeypatch.setattr(CalendarDay.objects, "aggregate", lambda **kw: (_ for _ in ()).throw(RuntimeError("no db")))

    assert calendar.is_trading_day(dt.date(2024, 10, 8))
    assert not calendar.is_trading_day(dt.date(2024, 10, 1))


def test_recorded_east_money_kline_dates_are_exchange_calendars_sessions():
    """Real data (``fixtures/README.md``): every day of a recorded push2his answer is a published session."""
    payload = json.loads((FIXTURES / "eastmoney_kline_000157_fqt0_excerpt.json").read_text())
    days = [dt.date.fromisoformat(line.split(",")[0]) for line in payload["data"]["klines"]]
    published = set(exchange_sessions())

    assert days and all(day in published for day in days)


def test_sessions_learned_from_recorded_real_answers_equal_exchange_calendars():
    """Real data: the days the recorded ETFs traded (2020-11 .. 2024-07) are exactly XSHG's sessions."""
    run = run_sync(SyncOptions.parse("etfs"), provider=recorded_provider(), now=after_close(LAST_RAW_DAY))

    stored = list(CalendarDay.objects.sessions().values_list("date", flat=True))
    assert run.status == SyncRun.Status.SUCCESS, run.message
    assert len(stored) > 850
    assert stored == [d for d in exchange_sessions() if stored[0] <= d <= stored[-1]]


# --- the sync keeps it ----------------------------------------------------------------------------
def test_first_sync_stores_every_session_from_one_index_request(simulator, provider_settings):
    sim = simulator(n_etfs=3, n_stocks=0, years=1, today=dt.date(2024, 6, 28))
    provider_settings(sim, PROVIDERS=["eastmoney"])

    sync(sim)

    stored = list(CalendarDay.objects.sessions().values_list("date", flat=True))
    assert stored == sim_sessions.trading_days(sim.market.start, sim.today)
    assert len(index_requests(sim)) == 1
    assert CalendarDay.objects.count() == (stored[-1] - stored[0]).days + 1  # every day of the range


def test_next_session_comes_from_the_list_snapshot_without_asking_the_index(simulator, provider_settings):
    sim = simulator(n_etfs=3, n_stocks=0, years=1, today=dt.date(2024, 6, 27))
    provider_settings(sim, PROVIDERS=["eastmoney"])
    sync(sim)

    sim.set_today(dt.date(2024, 6, 28))
    sync(sim)

    assert len(index_requests(sim)) == 1
    assert CalendarDay.objects.get(date=dt.date(2024, 6, 28)).is_session


def test_weekdays_since_the_last_stored_day_are_read_from_the_index(simulator, provider_settings):
    sim = simulator(n_etfs=3, n_stocks=0, years=1, today=dt.date(2024, 9, 27))
    provider_settings(sim, PROVIDERS=["eastmoney"])
    sync(sim)

    sim.set_today(dt.date(2024, 10, 8))  # after the National Day week
    sync(sim)

    assert len(index_requests(sim)) == 2
    assert list(CalendarDay.objects.filter(date__gt=dt.date(2024, 9, 27)).values_list("date", "is_session")) == [
        (day, day == dt.date(2024, 9, 30) or day == dt.date(2024, 10, 8))
        for day in every_day(dt.date(2024, 9, 28), dt.date(2024, 10, 8))
    ]


def test_a_snapshot_of_an_earlier_day_after_the_close_marks_today_closed(simulator, provider_settings):
    sim = simulator(n_etfs=3, n_stocks=0, years=1, today=HOLIDAY_2027)
    provider_settings(sim, PROVIDERS=["eastmoney"])

    sync(sim)

    assert not CalendarDay.objects.get(date=HOLIDAY_2027).is_session
    assert CalendarDay.objects.get(date=dt.date(2027, 2, 4)).is_session


def test_on_a_2027_holiday_freshness_is_up_to_date_and_no_instrument_gains_a_missing_day(
    simulator, provider_settings, client
):
    sim = simulator(n_etfs=6, n_stocks=0, years=1, today=HOLIDAY_2027, seed=4)
    provider_settings(sim, PROVIDERS=["eastmoney"])
    cache.clear()

    run = sync(sim)

    assert run.status == SyncRun.Status.SUCCESS, run.message
    summary = build_landing_summary(after_close(HOLIDAY_2027))
    assert (summary.is_fresh, summary.expected_bar_date) == (True, dt.date(2027, 2, 4))
    # Missing days are exactly the host's own (suspensions), no holiday among them.
    suspended = {}
    for symbol in Instrument.objects.values_list("symbol", flat=True):
        days = [bar.day for bar in sim.market.bars(symbol)]
        suspended[symbol] = [d.isoformat() for d in sim_sessions.trading_days(days[0], days[-1]) if d not in days]
        assert client.get(f"/api/instruments/{symbol}/").json()["missing_days"] == suspended[symbol]
    assert find_gaps()[1] == len([s for s, days in suspended.items() if days])
    # The control: with exchange_calendars alone, the host's 2027 holidays would be missing days.
    calendar.reset(stored=False)
    assert find_gaps()[1] == len(suspended)


# --- the simulator, health and the API ---------------------------------------------------------------
def test_simulator_serves_the_index_on_its_own_sessions(simulator):
    sim = simulator(n_etfs=1, n_stocks=0, years=1, today=HOLIDAY_2027)

    body = requests.get(sim.kline_url, params={"secid": "1.000001", "klt": 101, "fqt": 0}, timeout=5).json()

    days = [dt.date.fromisoformat(line.split(",")[0]) for line in body["data"]["klines"]]
    assert days == sim_sessions.trading_days(sim.market.start, HOLIDAY_2027)
    assert dt.date(2027, 1, 1) not in days and dt.date(2027, 2, 5) not in days


@pytest.mark.parametrize(("today", "warns"), [(dt.date(2026, 6, 1), False), (dt.date(2026, 12, 28), True)])
def test_health_warns_when_no_session_is_known_for_the_coming_days(today, warns):
    healthy, report = health_report(after_close(today))

    assert healthy
    assert bool(report["calendar"]["warning"]) is warns
    assert report["calendar"]["known_through"] == exchange_sessions()[-1]


def test_instrument_detail_lists_trading_days_without_a_bar(client):
    instrument = InstrumentFactory(code="510300")
    june = calendar.trading_days(dt.date(2024, 6, 3), dt.date(2024, 6, 28))
    make_bars(instrument, [day for day in june if day not in (june[4], june[9])])

    body = client.get("/api/instruments/510300.SH/").json()

    assert body["missing_days"] == [june[4].isoformat(), june[9].isoformat()]
