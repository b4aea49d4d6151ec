"""Read paths of the fund data: NAV with close and premium, shares with flow, the latest screen.

Premium and flow are computed here, on read, from what is stored (see ``prices.fund_models``):

- ``premium = close / unit_nav − 1`` for each day with both a bar and a NAV, to six decimals
  (0.0001 %), rounded half-up. Positive means the ETF traded above its NAV.
- ``flow = (shares − previous day's shares) × unit_nav`` in CNY, to the cent: the net
  creation (+) or redemption (−) of that day, valued at that day's NAV; empty on a fund's
  first shares day and on a day without NAV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Max

from etfs.calendar import previous_trading_day
from prices.fund_models import FundDay, FundNav, FundShares
from prices.models import DailyBar, time_to_trading_date, trading_date_to_time

PREMIUM_QUANTUM = Decimal("0.000001")
CENT = Decimal("0.01")


def premium(close: Decimal | None, unit_nav: Decimal | None) -> Decimal | None:
    if close is None or not unit_nav:
        return None
    return (close / unit_nav - 1).quantize(PREMIUM_QUANTUM, rounding=ROUND_HALF_UP)


def flow(shares: int, previous: int | None, unit_nav: Decimal | None) -> Decimal | None:
    if previous is None or unit_nav is None:
        return None
    return ((shares - previous) * unit_nav).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class NavRow:
    date: dt.date
    unit_nav: Decimal
    accumulated_nav: Decimal | None
    close: Decimal | None
    premium: Decimal | None


@dataclass(frozen=True)
class SharesRow:
    date: dt.date
    shares: int
    flow: Decimal | None


def _closes(instrument_id: int, start: dt.date | None, end: dt.date | None) -> dict[dt.date, Decimal]:
    bars = DailyBar.objects.for_instrument(instrument_id).between(start, end).values_list("time", "close")
    return {time_to_trading_date(time): close for time, close in bars}


def _navs(instrument_id: int, start: dt.date | None, end: dt.date | None) -> Iterable[tuple]:
    return (
        FundNav.objects.for_instrument(instrument_id)
        .between(start, end)
        .order_by("time")
        .values_list("time", "unit_nav", "accumulated_nav")
    )


def nav_rows(instrument_id: int, start: dt.date | None = None, end: dt.date | None = None) -> list[NavRow]:
    """Every stored NAV of the fund in ``start..end`` with that day's close and premium."""
    closes = _closes(instrument_id, start, end)
    rows = []
    for time, unit, accumulated in _navs(instrument_id, start, end):
        day = time_to_trading_date(time)
        close = closes.get(day)
        rows.append(NavRow(day, unit, accumulated, close, premium(close, unit)))
    return rows


def shares_rows(instrument_id: int, start: dt.date | None = None, end: dt.date | None = None) -> list[SharesRow]:
    """Every stored shares day in ``start..end`` with its flow (the day before ``start`` is read too)."""
    stored = FundShares.objects.for_instrument(instrument_id).order_by("time")
    previous = None
    if start is not None:
        before = stored.between(None, start - dt.timedelta(days=1)).order_by("-time").values_list("shares", flat=True)
        previous = before.first()
    navs = {time_to_trading_date(t): unit for t, unit, _ in _navs(instrument_id, start, end)}
    rows = []
    for time, shares in stored.between(start, end).values_list("time", "shares"):
        day = time_to_trading_date(time)
        rows.append(SharesRow(day, shares, flow(shares, previous, navs.get(day))))
        previous = shares
    return rows


@dataclass(frozen=True)
class FundLatest:
    """The latest NAV, premium (with the close of the NAV's day) and shares of a fund."""

    nav_date: dt.date | None
    unit_nav: Decimal | None
    premium: Decimal | None
    shares_date: dt.date | None
    shares: int | None
    aum: Decimal | None  # shares × unit NAV, CNY


def _last_times(model: type[FundDay | DailyBar], instrument_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """Each instrument's last stored day in ``model`` (its ``time``), in one query."""
    last = (
        model.objects.filter(instrument_id__in=list(instrument_ids))
        .values("instrument_id")
        .annotate(last=Max("time"))
        .values_list("instrument_id", "last")
    )
    return dict(last)


def _values_on(model: type[FundDay | DailyBar], field: str, times: dict[int, dt.datetime]) -> dict[int, Any]:
    """``field`` of each instrument's row in ``model`` on its day in ``times``, in one query."""
    rows = model.objects.filter(instrument_id__in=list(times), time__in=set(times.values()))
    return {iid: value for iid, time, value in rows.values_list("instrument_id", "time", field) if times[iid] == time}


def latest_fund_values(instrument_ids: list[int]) -> dict[int, FundLatest]:
    """One query per table for a whole screen, however many instruments it shows."""
    if not instrument_ids:
        return {}
    last_nav = _last_times(FundNav, instrument_ids)
    last_shares = _last_times(FundShares, instrument_ids)
    navs = _values_on(FundNav, "unit_nav", last_nav)
    shares = _values_on(FundShares, "shares", last_shares)
    closes = _values_on(DailyBar, "close", last_nav)
    result = {}
    for iid in instrument_ids:
        nav_time, shares_time = last_nav.get(iid), last_shares.get(iid)
        unit = navs.get(iid)
        count = shares.get(iid)
        result[iid] = FundLatest(
            nav_date=time_to_trading_date(nav_time) if nav_time else None,
            unit_nav=unit,
            premium=premium(closes.get(iid), unit),
            shares_date=time_to_trading_date(shares_time) if shares_time else None,
            shares=count,
            aum=(count * unit).quantize(CENT, rounding=ROUND_HALF_UP) if count is not None and unit else None,
        )
    return result


SCREEN_FUND_FIELDS = ["unit_nav", "premium", "shares", "aum"]


def add_fund_columns(rows: list[dict], instrument_ids: list[int]) -> None:
    """The ETF screen's extra columns: latest unit NAV, its day's premium, on-exchange shares, AUM."""
    values = latest_fund_values(instrument_ids)
    for row, iid in zip(rows, instrument_ids, strict=True):
        latest = values.get(iid)
        row["unit_nav"] = latest.unit_nav if latest else None
        row["premium"] = latest.premium if latest else None
        row["shares"] = latest.shares if latest else None
        row["aum"] = latest.aum if latest else None


@dataclass(frozen=True)
class Mover:
    """An ETF on the landing page's fund lists: its premium or its flow on the last day."""

    symbol: str
    name: str
    value: Decimal  # premium (fraction) or flow (CNY)
    unit_nav: Decimal

    @property
    def percent(self) -> Decimal:
        return (self.value * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _last_day(model: type[FundDay]) -> dt.date | None:
    last = model.objects.aggregate(last=Max("time"))["last"]
    return time_to_trading_date(last) if last else None


def widest_premiums(limit: int = 10) -> tuple[dt.date | None, list[Mover]]:
    """The ETFs furthest from their NAV (either side) on the last day with NAVs."""
    day = _last_day(FundNav)
    if day is None:
        return None, []
    time = trading_date_to_time(day)
    navs = dict(FundNav.objects.filter(time=time).values_list("instrument_id", "unit_nav"))
    closes = DailyBar.objects.filter(time=time, instrument_id__in=list(navs)).values_list(
        "instrument_id", "instrument__symbol", "instrument__name", "close"
    )
    movers = []
    for iid, symbol, name, close in closes:
        value = premium(close, navs[iid])
        if value is not None:  # as in largest_flows: a day without a value is no mover
            movers.append(Mover(symbol, name, value, navs[iid]))
    movers.sort(key=lambda m: abs(m.value), reverse=True)
    return day, movers[:limit]


def largest_flows(limit: int = 10) -> tuple[dt.date | None, list[Mover]]:
    """The largest net creations or redemptions (by absolute CNY) on the last day with shares."""
    day = _last_day(FundShares)
    if day is None:
        return None, []
    time, before = trading_date_to_time(day), trading_date_to_time(previous_trading_day(day))
    today = FundShares.objects.filter(time=time).values_list(
        "instrument_id", "instrument__symbol", "instrument__name", "shares"
    )
    previous = dict(FundShares.objects.filter(time=before).values_list("instrument_id", "shares"))
    navs = dict(FundNav.objects.filter(time=time).values_list("instrument_id", "unit_nav"))
    movers = []
    for iid, symbol, name, shares in today:
        value = flow(shares, previous.get(iid), navs.get(iid))
        if value is not None:
            movers.append(Mover(symbol, name, value, navs[iid]))
    movers.sort(key=lambda m: abs(m.value), reverse=True)
    return day, movers[:limit]
