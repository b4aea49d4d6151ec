"""Bar query parameters and bar representations.

Prices and amounts are JSON **numbers** (``pandas.read_json`` and every notebook want
numbers). They are exact: a price has at most 14 significant digits and an amount at most
15 in practice, below the 15-17 digits a double keeps, so the number text we send is the
stored decimal. CSV carries the decimal text itself.
"""

from __future__ import annotations

import datetime as dt

from rest_framework import serializers

from prices.adjustments import ADJUSTS
from prices.queries import INTERVALS, MAX_DATE, MIN_DATE

FORMATS = ("json", "csv")
DATE_FORMAT = ["%Y-%m-%d"]


def _price_field() -> serializers.DecimalField:
    # Null only for a row stored invalid by an earlier version (NaN), never for a synced one.
    return serializers.DecimalField(max_digits=14, decimal_places=3, coerce_to_string=False, allow_null=True)


class BarSerializer(serializers.Serializer):
    """One daily or aggregated bar (the schema of ``prices.queries.Bar.as_dict``)."""

    date = serializers.DateField(help_text="Trading date (Asia/Shanghai); first trading date of a week/month bucket")
    open = _price_field()
    high = _price_field()
    low = _price_field()
    close = _price_field()
    volume = serializers.IntegerField(help_text="Shares")
    amount = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        coerce_to_string=False,
        allow_null=True,
        help_text="Turnover in CNY; null when the provider did not report it",
    )


class BarPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one")
    results = BarSerializer(many=True)


class LatestBarSerializer(BarSerializer):
    symbol = serializers.CharField()
    name = serializers.CharField()


class BarQuerySerializer(serializers.Serializer):
    """Query parameters of ``/api/instruments/{symbol}/bars/``; errors answer 400 per field."""

    start = serializers.DateField(
        required=False, input_formats=DATE_FORMAT, help_text="First date, YYYY-MM-DD (inclusive)"
    )
    end = serializers.DateField(
        required=False, input_formats=DATE_FORMAT, help_text="Last date, YYYY-MM-DD (inclusive)"
    )
    adjust = serializers.ChoiceField(
        choices=ADJUSTS, default="none", help_text="none (raw), qfq (forward) or hfq (backward)"
    )
    interval = serializers.ChoiceField(
        choices=INTERVALS, default="1d", help_text="1d daily, 1w weekly (Mon-Sun), 1M calendar month"
    )
    format = serializers.ChoiceField(choices=FORMATS, default="json", help_text="json (paginated) or csv (streamed)")
    cursor = serializers.CharField(required=False, help_text="Opaque cursor from a page's 'next' link")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=10000, help_text="Bars per JSON page")

    def validate_start(self, value: dt.date) -> dt.date:
        return self._in_range(value)

    def validate_end(self, value: dt.date) -> dt.date:
        return self._in_range(value)

    def _in_range(self, value: dt.date) -> dt.date:
        if not MIN_DATE <= value <= MAX_DATE:
            raise serializers.ValidationError(f"Date must be between {MIN_DATE} and {MAX_DATE}.")
        return value

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"start": [f"start {start} is after end {end}."]})
        return attrs
