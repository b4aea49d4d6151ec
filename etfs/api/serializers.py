"""Serializers for instruments, sync runs and the health report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from etfs.models import Instrument, SyncRun
from etfs.symbols import parse_symbols
from etfs.sync.options import SyncOptionError, SyncOptions
from prices.models import time_to_trading_date
from prices.queries import missing_days


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "code",
            "exchange",
            "name",
            "is_etf",
            "asset_type",
            "is_active",
            "list_date",
            "delist_date",
            "price_decimals",
        ]
        read_only_fields = fields


class InstrumentDetailSerializer(InstrumentSerializer):
    """One instrument plus the extent of its stored history (annotated by the view's queryset)."""

    first_bar_date = serializers.SerializerMethodField()
    last_bar_date = serializers.SerializerMethodField()
    bar_count = serializers.IntegerField(read_only=True)
    missing_days = serializers.SerializerMethodField(
        help_text="Trading days between the first and last bar that have no bar (suspensions included)"
    )

    class Meta(InstrumentSerializer.Meta):
        fields = [*InstrumentSerializer.Meta.fields, "first_bar_date", "last_bar_date", "bar_count", "missing_days"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DateField()))
    def get_missing_days(self, instrument: Instrument) -> list[dt.date]:
        return missing_days(
            instrument,
            self.get_first_bar_date(instrument),
            self.get_last_bar_date(instrument),
            getattr(instrument, "bar_count", 0),
        )

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_first_bar_date(self, instrument: Instrument) -> dt.date | None:
        value = getattr(instrument, "first_bar_time", None)
        return time_to_trading_date(value) if value else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_last_bar_date(self, instrument: Instrument) -> dt.date | None:
        value = getattr(instrument, "last_bar_time", None)
        return time_to_trading_date(value) if value else None


class SyncRunSerializer(serializers.ModelSerializer):
    duration = serializers.FloatField(read_only=True, help_text="Seconds from start to finish (or to now)")

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "status",
            "trigger",
            "triggered_by",
            "parameters",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "duration",
            *SyncRun.COUNTERS,
            "errors",
            "message",
        ]
        read_only_fields = fields


class SyncRequestSerializer(serializers.Serializer):
    """What ``POST /api/sync-runs/`` accepts: a kind, optionally some symbols, optionally a full resync."""

    kind = serializers.ChoiceField(choices=SyncRun.Kind.choices)
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        allow_empty=False,
        max_length=1000,
        help_text="Only these instruments (any symbol form); all of the kind when omitted",
    )
    full = serializers.BooleanField(default=False, help_text="Re-fetch whole histories instead of the recent days")

    def validate_symbols(self, value: list[str]) -> list[str]:
        try:
            return [symbol.canonical for symbol in parse_symbols(value)]
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The request as ``SyncOptions`` (checked as the commands check theirs): 400 naming what is wrong."""
        try:
            attrs["options"] = SyncOptions.parse(attrs["kind"], symbols=attrs.get("symbols"), full=attrs["full"])
        except SyncOptionError as exc:
            raise serializers.ValidationError(str(exc)) from None  # non_field_errors
        return attrs

    def options(self) -> SyncOptions:
        """What the validated request asks for."""
        return self.validated_data["options"]


class SyncAgeSerializer(serializers.Serializer):
    last_success_at = serializers.DateTimeField(allow_null=True)
    age_seconds = serializers.FloatField(allow_null=True, help_text="Seconds since the last successful sync ended")
    running_run = serializers.IntegerField(allow_null=True, required=False, help_text="The run going on now, if any")
    stalled_run = serializers.IntegerField(
        allow_null=True,
        required=False,
        help_text="A running run without heartbeat for SYNC_STALE_RUN_SECONDS: alive but stuck, never taken over",
    )


class CalendarHealthSerializer(serializers.Serializer):
    known_through = serializers.DateField(help_text="The last day whose session status is known")
    provider_sessions_through = serializers.DateField(
        allow_null=True, help_text="The last day stored from the provider's sessions (null before the first sync)"
    )
    warning = serializers.CharField(
        allow_null=True, help_text="Set when no session is known for the coming days (weekdays are assumed)"
    )


class HealthSerializer(serializers.Serializer):
    database = serializers.CharField(help_text="'ok', or why the database could not be read")
    syncs = serializers.DictField(child=SyncAgeSerializer(), help_text="Per sync kind (etfs, stocks)")
    calendar = CalendarHealthSerializer(required=False, help_text="The trading calendar's reach (absent with 503)")
