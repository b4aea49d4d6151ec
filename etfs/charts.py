"""Server-side SVG price charts: the close as a line, the volume as bars beneath.

Drawn in Python so the admin needs no JavaScript charting library, no CDN and no npm: the
page carries a plain ``<svg>`` that any browser renders (and that tests can inspect). Prices
are adjusted by the API's own :func:`prices.queries.adjuster_for` over the instrument's stored
corporate actions; volumes are never adjusted (shares, as stored).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from etfs.models import Instrument
from prices.adjustments import ADJUSTS
from prices.models import DailyBar, time_to_trading_date, trading_date_to_time
from prices.queries import adjuster_for

# Range key -> calendar days before the last stored bar (None: the whole history).
RANGES: dict[str, int | None] = {"3M": 92, "6M": 183, "1Y": 366, "3Y": 3 * 366, "5Y": 5 * 366, "ALL": None}
DEFAULT_RANGE = "1Y"
DEFAULT_ADJUST = "none"
# More points than this are merged into buckets: a 20-year history (~5,000 bars) would make a
# heavy page and a line no wider than the screen anyway.
MAX_POINTS = 600

# China's convention: red when the price rose, green when it fell.
UP_COLOUR = "#d9363e"
DOWN_COLOUR = "#1a9850"
LINE_COLOUR = "#2f6fb0"


@dataclass(frozen=True)
class ChartPoint:
    """One plotted column: the (adjusted) close of its last day and the volume of all its days."""

    day: dt.date
    close: Decimal
    volume: int


@dataclass(frozen=True)
class PriceSeries:
    """What one chart shows: which instrument, range, adjustment, and the points in date order."""

    symbol: str
    range_key: str
    adjust: str
    decimals: int
    points: list[ChartPoint]


def normalise_range(value: str | None) -> str:
    """A valid range key from user input (case-insensitive); unknown values give the default."""
    key = (value or "").upper()
    return key if key in RANGES else DEFAULT_RANGE


def normalise_adjust(value: str | None) -> str:
    """A valid adjustment from user input; unknown values give ``none``."""
    key = (value or "").lower()
    return key if key in ADJUSTS else DEFAULT_ADJUST


def load_price_series(
    instrument: Instrument, *, range_key: str = DEFAULT_RANGE, adjust: str = DEFAULT_ADJUST
) -> PriceSeries:
    """Read the instrument's bars for the range (anchored at its last stored bar) and adjust them.

    Anchoring at the last bar rather than today keeps a chart useful on a database that has
    not been synced for a while. Small queries: last bar, the range, and for qfq/hfq the actions.
    """
    range_key = normalise_range(range_key)
    adjust = normalise_adjust(adjust)
    bars = DailyBar.objects.filter(instrument_id=instrument.pk)
    last_time = bars.aggregate(last=Max("time"))["last"]
    points: list[ChartPoint] = []
    if last_time is not None:
        days = RANGES[range_key]
        if days is not None:
            start = time_to_trading_date(last_time) - dt.timedelta(days=days)
            bars = bars.filter(time__gte=trading_date_to_time(start))
        adjuster = adjuster_for(instrument, adjust)
        for time, close, volume in bars.order_by("time").values_list("time", "close", "volume").iterator():
            if close is None or not Decimal(str(close)).is_finite():
                continue  # NaN stored by an earlier version: no point to draw
            day = time_to_trading_date(time)
            points.append(ChartPoint(day=day, close=adjuster.price(day, close), volume=volume))
    return PriceSeries(
        symbol=instrument.symbol,
        range_key=range_key,
        adjust=adjust,
        decimals=instrument.price_decimals,
        points=points,
    )


def downsample(points: list[ChartPoint], max_points: int = MAX_POINTS) -> list[ChartPoint]:
    """Merge consecutive days into at most ``max_points`` columns (last close, summed volume)."""
    if len(points) <= max_points:
        return list(points)
    merged: list[ChartPoint] = []
    size = len(points) / max_points
    for column in range(max_points):
        bucket = points[int(column * size) : int((column + 1) * size)]
        if bucket:
            merged.append(ChartPoint(day=bucket[-1].day, close=bucket[-1].close, volume=sum(p.volume for p in bucket)))
    return merged


@dataclass(frozen=True)
class _Frame:
    """Pixel geometry of the chart: the price panel above, the volume panel beneath."""

    width: int = 800
    left: int = 64
    right: int = 12
    price_top: int = 14
    price_height: int = 220
    volume_gap: int = 10
    volume_height: int = 64
    axis_height: int = 22

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def volume_top(self) -> int:
        return self.price_top + self.price_height + self.volume_gap

    @property
    def volume_bottom(self) -> int:
        return self.volume_top + self.volume_height

    @property
    def height(self) -> int:
        return self.volume_bottom + self.axis_height


def render_price_chart(series: PriceSeries, *, max_points: int = MAX_POINTS) -> SafeString:
    """The chart as an inline ``<svg>`` string (safe to put in a template unescaped)."""
    frame = _Frame()
    label = f"{series.symbol} close ({_adjust_label(series.adjust)}), range {series.range_key}"
    head = (
        f'<svg class="price-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" data-points="{len(series.points)}" '
        'style="max-width:900px;font:11px sans-serif;background:#fff">'
        f"<title>{escape(label)}</title>"
    )
    points = downsample(series.points, max_points)
    if not points:
        middle_y = frame.price_top + frame.price_height // 2
        return mark_safe(
            f'{head}<text class="chart-empty" x="{frame.width // 2}" y="{middle_y}" text-anchor="middle" '
            'fill="#666">No bars stored for this range yet.</text></svg>'
        )
    return mark_safe(head + _price_panel(series, points, frame) + _volume_panel(points, frame) + "</svg>")


def _x_positions(count: int, frame: _Frame) -> list[float]:
    if count == 1:
        return [frame.left + frame.plot_width / 2]
    step = frame.plot_width / (count - 1)
    return [frame.left + i * step for i in range(count)]


def _price_panel(series: PriceSeries, points: list[ChartPoint], frame: _Frame) -> str:
    closes = [float(p.close) for p in points]
    low, high = min(closes), max(closes)
    pad = (high - low) * 0.05 or max(abs(high) * 0.01, 0.01)
    low, high = low - pad, high + pad

    def y_of(value: float) -> float:
        return frame.price_top + (high - value) / (high - low) * frame.price_height

    parts = []
    for step in range(5):  # horizontal grid with price labels
        value = low + (high - low) * step / 4
        y = y_of(value)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.2f}" y2="{y:.2f}" stroke="#eee"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.2f}" text-anchor="end" fill="#555">'
            f"{value:.{series.decimals}f}</text>"
        )
    xs = _x_positions(len(points), frame)
    coords = " ".join(f"{x:.2f},{y_of(c):.2f}" for x, c in zip(xs, closes, strict=True))
    parts.append(
        f'<polyline class="chart-close" points="{coords}" fill="none" stroke="{LINE_COLOUR}" '
        'stroke-width="1.5" stroke-linejoin="round"/>'
    )
    if len(points) == 1:
        parts.append(f'<circle cx="{xs[0]:.2f}" cy="{y_of(closes[0]):.2f}" r="3" fill="{LINE_COLOUR}"/>')
    last = points[-1]
    parts.append(
        f'<text class="chart-last" x="{frame.width - frame.right}" y="{frame.price_top - 2}" text-anchor="end" '
        f'fill="#333">{escape(last.day.isoformat())} close {escape(str(last.close))}</text>'
    )
    axis_y = frame.volume_bottom + 15
    labels = {0: "start", len(points) // 2: "middle", len(points) - 1: "end"}
    anchors = {"start": "start", "middle": "middle", "end": "end"}
    for index, role in labels.items():
        parts.append(
            f'<text x="{xs[index]:.2f}" y="{axis_y}" text-anchor="{anchors[role]}" fill="#555">'
            f"{points[index].day.isoformat()}</text>"
        )
    return "".join(parts)


def _volume_panel(points: list[ChartPoint], frame: _Frame) -> str:
    top_volume = max(p.volume for p in points) or 1
    xs = _x_positions(len(points), frame)
    bar_width = max(min(frame.plot_width / len(points) * 0.7, 12), 0.6)
    up: list[str] = []
    down: list[str] = []
    previous_close = None
    for x, point in zip(xs, points, strict=True):
        height = point.volume / top_volume * frame.volume_height
        segment = f"M{x:.2f} {frame.volume_bottom}V{frame.volume_bottom - height:.2f}"
        rose = previous_close is None or point.close >= previous_close
        (up if rose else down).append(segment)
        previous_close = point.close
    parts = [
        f'<text x="{frame.left - 6}" y="{frame.volume_top + 9}" text-anchor="end" fill="#555">'
        f"{_short_volume(top_volume)}</text>",
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{frame.volume_bottom}" '
        f'y2="{frame.volume_bottom}" stroke="#ccc"/>',
    ]
    for colour, segments, name in ((UP_COLOUR, up, "up"), (DOWN_COLOUR, down, "down")):
        if segments:
            parts.append(
                f'<path class="chart-volume chart-volume-{name}" d="{"".join(segments)}" stroke="{colour}" '
                f'stroke-width="{bar_width:.2f}"/>'
            )
    return "".join(parts)


def _short_volume(shares: int) -> str:
    """Volume label in the units Chinese quotes use: 万 (10^4) and 亿 (10^8) shares."""
    if shares >= 100_000_000:
        return f"{shares / 100_000_000:.1f}亿"
    if shares >= 10_000:
        return f"{shares / 10_000:.0f}万"
    return str(shares)


def _adjust_label(adjust: str) -> str:
    return {"none": "unadjusted", "qfq": "forward-adjusted qfq", "hfq": "backward-adjusted hfq"}[adjust]
