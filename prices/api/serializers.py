"""Bar query parameters and bar representations (the latter for the OpenAPI schema only).

Bars are written straight from rows to bytes (``prices.api.writers``); the serializers here
validate query parameters and describe the answers. Prices and amounts are JSON **numbers**
(``pandas.read_json`` and every notebook want numbers). They are exact: a price has at most
14 significant digits and an amount at most 15 in practice, below the 15-17 digits a double
keeps, so the number text we send is the stored decimal. CSV carries the decimal text itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from etfs.dates import DATE_FORMATS_TEXT, DATE_PATTERN, parse_date
from etfs.symbols import SYMBOL_FORMS, parse_symbols
from prices.adjustments import ADJUSTS
from prices.columns import COLUMNS
from prices.queries import INTERVALS, MAX_DATE, MIN_DATE

FORMATS = ("json", "csv", "parquet")
MAX_SYMBOLS = 1000


@extend_schema_field({"type": "string", "format": "date", "pattern": DATE_PATTERN})
class FlexibleDateField(serializers.Field):
    """A date as ``YYYY-MM-DD`` or ``YYYYMMDD`` within the dates the database can answer for."""

    default_error_messages = {"invalid": "Enter a date as " + DATE_FORMATS_TEXT + "."}

    def to_internal_value(self, data: Any) -> dt.date:
        try:
            value = parse_date(data)
        except ValueError:
            self.fail("invalid")
        if not MIN_DATE <= value <= MAX_DATE:
            raise serializers.ValidationError(f"Date must be between {MIN_DATE} and {MAX_DATE}.")
        return value

    def to_representation(self, value: dt.date) -> str:
        return value.isoformat()


class StrictBooleanParam(serializers.Field):
    """``1``/``0``/``true``/``false``; anything else is an error."""

    def to_internal_value(self, data: Any) -> bool:
        text = str(data).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false", ""):
            return False
        raise serializers.ValidationError("Enter 1 or 0 (true or false).")

    def to_representation(self, value: bool) -> bool:  # noqa: FBT001 (DRF's signature)
        return value


extend_schema_field({"type": "string", "enum": ["0", "1", "true", "false"]})(StrictBooleanParam)


def _price_field(help_text: str = "") -> serializers.DecimalField:
    # Null only for a row stored invalid by an earlier version (NaN), never for a synced one.
    return serializers.DecimalField(
        max_digits=14, decimal_places=3, coerce_to_string=False, allow_null=True, help_text=help_text
    )


class BarSerializer(serializers.Serializer):
    """One daily or aggregated bar; ``fields=`` chooses which of these columns come back."""

    symbol = serializers.CharField(required=False, help_text="Canonical symbol (multi-instrument answers only)")
    date = serializers.DateField(
        required=False, help_text="Trading date (Asia/Shanghai); for 1w/1M the period's last trading date"
    )
    period_start = serializers.DateField(
        required=False, help_text="1w/1M only: the period's first trading date (pages continue from it)"
    )
    open = _price_field()
    high = _price_field()
    low = _price_field()
    close = _price_field()
    pre_close = _price_field(
        "Previous close in this series: adjusted for qfq/hfq, the exchange's reference price (ex-day "
        "corrected) for raw bars; null on the first bar"
    )
    change = _price_field("close - pre_close")
    pct_chg = serializers.DecimalField(
        max_digits=12, decimal_places=4, coerce_to_string=False, help_text="change / pre_close × 100 (percent)"
    )
    volume = serializers.IntegerField(required=False, help_text="Shares")
    amount = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        coerce_to_string=False,
        help_text="Turnover in CNY; null when the provider did not report it",
    )
    adj_factor = serializers.FloatField(
        required=False, help_text="Multiplicative part of the day's raw→adjusted map (splits); 1 for raw bars"
    )
    adj_offset = serializers.FloatField(
        required=False,
        help_text="Additive part (cash distributions): adjusted = round(raw × adj_factor + adj_offset); 0 for raw",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("open", "high", "low", "close", "pre_close", "change", "pct_chg", "amount"):
            self.fields[name].required = False
            self.fields[name].allow_null = name in ("pre_close", "change", "pct_chg", "amount")


class BarPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one")
    results = BarSerializer(many=True)


class LatestBarSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField()
    date = serializers.DateField(help_text="Trading date of the instrument's latest bar")
    open = _price_field()
    high = _price_field()
    low = _price_field()
    close = _price_field()
    volume = serializers.IntegerField(help_text="Shares")
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=2, coerce_to_string=False, allow_null=True, help_text="Turnover in CNY"
    )


class BarQuerySerializer(serializers.Serializer):
    """Query parameters of ``/api/instruments/{symbol}/bars/``; errors answer 400 per field."""

    start = FlexibleDateField(required=False, help_text=f"First date, {DATE_FORMATS_TEXT} (inclusive)")
    end = FlexibleDateField(required=False, help_text=f"Last date, {DATE_FORMATS_TEXT} (inclusive)")
    adjust = serializers.ChoiceField(
        choices=ADJUSTS, default="none", help_text="none (raw), qfq (forward) or hfq (backward)"
    )
    interval = serializers.ChoiceField(
        choices=INTERVALS,
        default="1d",
        help_text="1d daily, 1w weekly (Mon-Sun), 1M calendar month; 1w/1M are dated by the period's last trading day",
    )
    # A parameter named "fields": DRF's metaclass takes declared fields off the class, so this
    # does not shadow Serializer.fields at run time (the stubs cannot know).
    fields = serializers.CharField(  # type: ignore[assignment]
        required=False,
        help_text="Comma list of columns to return, in this order; default all of: " + ", ".join(COLUMNS),
    )
    format = serializers.ChoiceField(
        choices=FORMATS, default="json", help_text="json (paginated), csv or parquet (both streamed whole)"
    )
    bom = StrictBooleanParam(
        required=False, default=False, help_text="csv: 1 starts the file with a UTF-8 BOM (Excel on Chinese Windows)"
    )
    cursor = serializers.CharField(required=False, help_text="Opaque cursor from a page's 'next' link")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=10000, help_text="Bars per JSON page")

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and start > end:
            raise serializers.ValidationError({"start": [f"start {start} is after end {end}."]})
        return attrs


def chosen_columns(params: dict[str, Any], available: tuple[str, ...]) -> tuple[str, ...]:
    """The columns ``fields=`` asks for (400 naming unknown ones), or every available one."""
    text = params.get("fields")
    if not text:
        return available
    asked = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in asked if name not in available]
    if unknown or not asked:
        message = f"Unknown column(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(available)}."
        raise serializers.ValidationError({"fields": [message]})
    return tuple(dict.fromkeys(asked))


_PROTOTYPES: dict[type, serializers.Serializer] = {}


def validate_query(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validated query parameters (400 with a message per field), without a new serializer per request.

    A serializer instance deep-copies its fields, a good share of a small page's cost; the
    fields and the ``validate`` hooks keep no state between calls, so one instance per class
    validates every request.
    """
    prototype = _PROTOTYPES.get(serializer_class)
    if prototype is None:
        prototype = serializer_class()
        prototype.fields  # noqa: B018 -- bind the fields once, before threads share the instance
        _PROTOTYPES[serializer_class] = prototype
    return prototype.run_validation(data)


class CrossBarQuerySerializer(BarQuerySerializer):
    """``/api/bars/``: ``symbols`` with a date range, or ``date`` for one day of every instrument filtered."""

    symbols = serializers.CharField(
        required=False, help_text=f"Comma list of up to {MAX_SYMBOLS} symbols, any form: {SYMBOL_FORMS}"
    )
    date = FlexibleDateField(
        required=False,
        help_text=f"One trading day ({DATE_FORMATS_TEXT}): its bar of every instrument matching the instrument filters",
    )

    def validate_symbols(self, value: str) -> list:
        try:
            symbols = parse_symbols(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if not symbols:
            raise serializers.ValidationError("Name at least one symbol.")
        if len(symbols) > MAX_SYMBOLS:
            raise serializers.ValidationError(f"At most {MAX_SYMBOLS} symbols per call ({len(symbols)} given).")
        return symbols

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if ("symbols" in attrs) == ("date" in attrs):
            raise serializers.ValidationError(
                {"symbols": ["Give either symbols= (with start/end) or date= (one day of every filtered instrument)."]}
            )
        if "date" in attrs:
            if "start" in attrs or "end" in attrs:
                raise serializers.ValidationError({"date": ["date= is one day; start/end go with symbols=."]})
            if attrs["interval"] != "1d":
                raise serializers.ValidationError({"interval": ["A cross-section (date=) is of daily bars: 1d."]})
        return attrs


class ActionSerializer(serializers.Serializer):
    ex_date = serializers.DateField()
    cash = serializers.DecimalField(
        max_digits=14, decimal_places=4, coerce_to_string=False, help_text="CNY per share before the split"
    )
    split_ratio = serializers.DecimalField(
        max_digits=20, decimal_places=10, coerce_to_string=False, help_text="New shares per old share (2 = 1:2 split)"
    )
    source = serializers.CharField(  # type: ignore[assignment]  # a declared field, not Field.source
        help_text="How the action was found, as CorporateAction.source holds it (provider, snapshot, manual, …)"
    )


class CalendarQuerySerializer(serializers.Serializer):
    start = FlexibleDateField(help_text=f"First date, {DATE_FORMATS_TEXT} (inclusive)")
    end = FlexibleDateField(help_text=f"Last date, {DATE_FORMATS_TEXT} (inclusive)")

    def validate(self, attrs: dict) -> dict:
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"start": [f"start {attrs['start']} is after end {attrs['end']}."]})
        if (attrs["end"] - attrs["start"]).days > 366 * 40:
            raise serializers.ValidationError({"end": ["At most 40 years per call."]})
        return attrs


class CalendarSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    count = serializers.IntegerField()
    trading_days = serializers.ListField(child=serializers.DateField(), help_text="SH/SZ trading days, oldest first")
