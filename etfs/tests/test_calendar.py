from __future__ import annotations

import datetime as dt

from etfs import calendar

SH = calendar.SHANGHAI


def test_national_day_golden_week_is_closed():
    assert not calendar.is_trading_day(dt.date(2024, 10, 1))
    assert not calendar.is_trading_day(dt.date(2024, 10, 7))
    assert calendar.is_trading_day(dt.date(2024, 10, 8))


def test_weekends_are_closed():
    assert not calendar.is_trading_day(dt.date(2024, 1, 6))


def test_trading_days_between_skips_spring_festival():
    days = calendar.trading_days(dt.date(2024, 2, 8), dt.date(2024, 2, 19))
    assert days == [dt.date(2024, 2, 8), dt.date(2024, 2, 19)]


def test_previous_and_next_trading_day_cross_holidays():
    assert calendar.previous_trading_day(dt.date(2024, 10, 8)) == dt.date(2024, 9, 30)
    assert calendar.next_trading_day(dt.date(2024, 9, 30)) == dt.date(2024, 10, 8)
    assert calendar.shift_trading_days(dt.date(2024, 10, 10), 3) == dt.date(2024, 9, 30)


def test_last_final_trading_day_waits_for_the_close():
    before = dt.datetime(2024, 10, 8, 14, 0, tzinfo=SH)
    after = dt.datetime(2024, 10, 8, 16, 0, tzinfo=SH)
    holiday = dt.datetime(2024, 10, 3, 16, 0, tzinfo=SH)
    assert calendar.last_final_trading_day(before) == dt.date(2024, 9, 30)
    assert calendar.last_final_trading_day(after) == dt.date(2024, 10, 8)
    assert calendar.last_final_trading_day(holiday) == dt.date(2024, 9, 30)
