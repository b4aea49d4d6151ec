"""Server-side SVG charts of an ETF as a fund: close against NAV with the premium beneath,
and on-exchange shares with the AUM (shares × unit NAV) beneath.

Same approach as ``etfs.charts`` (inline ``<svg>``, no JavaScript, no CDN), same range keys,
anchored at the fund's last stored NAV. Prices are raw: the premium compares the raw close
with the unit NAV of the same day, as the API does (``prices.fund_queries``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from etfs.charts import RANGES, normalise_range
from etfs.models import Instrument
from prices.fund_queries import nav_rows, shares_rows
from prices.models import FundNav, FundShares, time_to_trading_date

MAX_POINTS = 600
CLOSE_COLOUR = "#2f6fb0"
NAV_COLOUR = "#e08a00"
UP_COLOUR = "#d9363e"  # premium (above NAV) in red, discount in green: China's colours
DOWN_COLOUR = "#1a9850"
WIDTH, LEFT, RIGHT, TOP, MAIN_HEIGHT, GAP, SUB_HEIGHT, AXIS = 800, 72, 12, 14, 200, 10, 70, 22


@dataclass(frozen=True)
class FundChartData:
    """The rows of both charts for one range: NAV rows (with close, premium) and shares rows."""

    symbol: str
    range_key: str
    navs: list  # prices.fund_queries.NavRow
    shares: list[tuple[dt.date, int, Decimal | None]]  # day, shares, AUM


def load_fund_chart_data(instrument: Instrument, *, range_key: str | None = None) -> FundChartData:
    range_key = normalise_range(range_key)
    last_nav = FundNav.objects.filter(instrument_id=instrument.pk).aggregate(last=Max("time"))["last"]
    last_shares = FundShares.objects.filter(instrument_id=instrument.pk).aggregate(last=Max("time"))["last"]
    days = RANGES[range_key]

    def start_of(last: dt.datetime | None) -> dt.date | None:
        if last is None or days is None:
            return None
        return time_to_trading_date(last) - dt.timedelta(days=days)

    navs = nav_rows(instrument.pk, start_of(last_nav)) if last_nav else []
    nav_by_day = {row.date: row.unit_nav for row in nav_rows(instrument.pk, start_of(last_shares))} if navs else {}
    shares = []
    if last_shares is not None:
        for row in shares_rows(instrument.pk, start_of(last_shares)):
            unit = nav_by_day.get(row.date)
            shares.append((row.date, row.shares, row.shares * unit if unit is not None else None))
    return FundChartData(instrument.symbol, range_key, navs, shares)


def _every(rows: Sequence, limit: int = MAX_POINTS) -> list:
    if len(rows) <= limit:
        return list(rows)
    step = len(rows) / limit
    return [rows[min(len(rows) - 1, int((i + 1) * step) - 1)] for i in range(limit)]


def _xs(count: int) -> list[float]:
    plot = WIDTH - LEFT - RIGHT
    if count == 1:
        return [LEFT + plot / 2]
    return [LEFT + i * plot / (count - 1) for i in range(count)]


def _scale(values: list[float], top: float, height: float) -> tuple[Callable[[float], float], float, float]:
    """``(y of a value, low, high)``: ``values`` with 5 % padding mapped onto ``top``..``top + height``."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or max(abs(high) * 0.01, 0.01)
    low, high = low - pad, high + pad
    return (lambda v: top + (high - v) / (high - low) * height), low, high


def _svg(css_class: str, label: str, body: str, points: int) -> SafeString:
    height = TOP + MAIN_HEIGHT + GAP + SUB_HEIGHT + AXIS
    return mark_safe(
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" data-points="{points}" '
        f'style="max-width:900px;font:11px sans-serif;background:#fff"><title>{escape(label)}</title>{body}</svg>'
    )


def _empty(css_class: str, label: str, text: str) -> SafeString:
    return _svg(
        css_class,
        label,
        f'<text class="chart-empty" x="{WIDTH // 2}" y="{TOP + MAIN_HEIGHT // 2}" text-anchor="middle" '
        f'fill="#666">{escape(text)}</text>',
        0,
    )


def _grid(y_of: Callable[[float], float], low: float, high: float, text: Callable[[float], str]) -> str:
    """Five horizontal grid lines from ``low`` to ``high``, each labelled on the left with ``text(value)``."""
    parts = []
    for step in range(5):
        value = low + (high - low) * step / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" y2="{y:.2f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end" fill="#555">{text(value)}</text>'
        )
    return "".join(parts)


def _polyline(css_class: str, xs: list[float], ys: list[float | None], colour: str) -> str:
    runs: list[list[str]] = []
    current: list[str] = []
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(f"{x:.2f},{y:.2f}")
    if current:
        runs.append(current)
    return "".join(
        f'<polyline class="{css_class}" points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        for run in runs
    )


def _dates(xs: list[float], days: list[dt.date]) -> str:
    axis_y = TOP + MAIN_HEIGHT + GAP + SUB_HEIGHT + 15
    labels = {0: "start", len(days) // 2: "middle", len(days) - 1: "end"}
    return "".join(
        f'<text x="{xs[i]:.2f}" y="{axis_y}" text-anchor="{anchor}" fill="#555">{days[i].isoformat()}</text>'
        for i, anchor in labels.items()
    )


def render_nav_chart(data: FundChartData) -> SafeString:
    """Close (blue) and unit NAV (orange) above; the premium/discount (bars around 0) beneath."""
    label = f"{data.symbol} close vs NAV and premium, range {data.range_key}"
    rows = _every(data.navs)
    if not rows:
        return _empty("nav-chart", label, "No NAV stored for this range yet.")
    xs = _xs(len(rows))
    values = [float(r.unit_nav) for r in rows] + [float(r.close) for r in rows if r.close is not None]
    y_of, low, high = _scale(values, TOP, MAIN_HEIGHT)
    body = _grid(y_of, low, high, lambda value: f"{value:.3f}")
    body += _polyline("chart-nav", xs, [y_of(float(r.unit_nav)) for r in rows], NAV_COLOUR)
    closes = [None if r.close is None else y_of(float(r.close)) for r in rows]
    body += _polyline("chart-close", xs, closes, CLOSE_COLOUR)
    premiums = [float(r.premium) * 100 if r.premium is not None else None for r in rows]
    known = [p for p in premiums if p is not None]
    sub_top = TOP + MAIN_HEIGHT + GAP
    if known:
        extent = max(max(abs(p) for p in known), 0.01)
        zero = sub_top + SUB_HEIGHT / 2
        width = max(min((WIDTH - LEFT - RIGHT) / len(rows) * 0.7, 10), 0.6)
        up: list[str] = []
        down: list[str] = []
        for x, p in zip(xs, premiums, strict=True):
            if p is None:
                continue
            y = zero - p / extent * SUB_HEIGHT / 2
            (up if p >= 0 else down).append(f"M{x:.2f} {zero:.2f}V{y:.2f}")
        body += (
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.2f}" y2="{zero:.2f}" stroke="#ccc"/>'
            f'<text x="{LEFT - 6}" y="{sub_top + 9}" text-anchor="end" fill="#555">+{extent:.2f}%</text>'
            f'<text x="{LEFT - 6}" y="{sub_top + SUB_HEIGHT}" text-anchor="end" fill="#555">-{extent:.2f}%</text>'
        )
        for colour, segments, name in ((UP_COLOUR, up, "premium"), (DOWN_COLOUR, down, "discount")):
            if segments:
                body += (
                    f'<path class="chart-{name}" d="{"".join(segments)}" stroke="{colour}" stroke-width="{width:.2f}"/>'
                )
    last = rows[-1]
    body += (
        f'<text class="chart-last" x="{WIDTH - RIGHT}" y="{TOP - 2}" text-anchor="end" fill="#333">'
        f"{last.date.isoformat()} NAV {escape(str(last.unit_nav))} close {escape(str(last.close or '-'))} "
        f"premium {'-' if last.premium is None else f'{float(last.premium) * 100:.2f}%'}</text>"
    )
    body += _dates(xs, [r.date for r in rows])
    return _svg("nav-chart", label, body, len(data.navs))


def _short(value: float) -> str:
    if abs(value) >= 100_000_000:
        return f"{value / 100_000_000:.1f}亿"
    if abs(value) >= 10_000:
        return f"{value / 10_000:.0f}万"
    return f"{value:.0f}"


def render_shares_chart(data: FundChartData) -> SafeString:
    """On-exchange shares (line) above; AUM = shares × unit NAV (line, CNY) beneath."""
    label = f"{data.symbol} on-exchange shares and AUM, range {data.range_key}"
    rows = _every(data.shares)
    if not rows:
        return _empty("shares-chart", label, "No shares stored for this range yet.")
    xs = _xs(len(rows))
    y_of, low, high = _scale([float(s) for _, s, _ in rows], TOP, MAIN_HEIGHT)
    body = _grid(y_of, low, high, _short)
    body += _polyline("chart-shares", xs, [y_of(float(s)) for _, s, _ in rows], CLOSE_COLOUR)
    aums = [float(a) if a is not None else None for _, _, a in rows]
    known = [a for a in aums if a is not None]
    sub_top = TOP + MAIN_HEIGHT + GAP
    if known:
        a_of, a_low, a_high = _scale(known, sub_top, SUB_HEIGHT)
        body += (
            f'<text x="{LEFT - 6}" y="{sub_top + 9}" text-anchor="end" fill="#555">{_short(a_high)}</text>'
            f'<text x="{LEFT - 6}" y="{sub_top + SUB_HEIGHT}" text-anchor="end" fill="#555">{_short(a_low)}</text>'
        )
        body += _polyline("chart-aum", xs, [None if a is None else a_of(a) for a in aums], NAV_COLOUR)
    day, shares, aum = rows[-1]
    body += (
        f'<text class="chart-last" x="{WIDTH - RIGHT}" y="{TOP - 2}" text-anchor="end" fill="#333">'
        f"{day.isoformat()} shares {_short(float(shares))} "
        f"AUM {_short(float(aum)) if aum is not None else '-'} CNY</text>"
    )
    body += _dates(xs, [d for d, _, _ in rows])
    return _svg("shares-chart", label, body, len(data.shares))
