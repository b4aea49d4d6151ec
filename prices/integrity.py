"""Bars stored invalid by earlier versions (which validated nothing): find them and hold them
for a curator.

Versions before issue 13 stored NaN prices, closes above the high and rows dated 1479 when a
provider sent them. Reads serve non-finite numbers as null (never a 500); this finds such
rows so a curator can remove them (accept) or keep them (reject) in the quarantine admin.
Migration ``prices.0005`` runs it once; ``manage.py check_bars`` runs it on demand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import F, Q

from prices.models import bar_values, time_to_trading_date, trading_date_to_time

FIRST_SESSION = dt.date(1990, 12, 19)
PRICES = ("open", "high", "low", "close")
REASON = "stored invalid by an earlier version: {problem}; accept removes the row, reject keeps it"


def invalid_condition() -> Q:
    """Rows whose values cannot be true, as the database compares them (portable)."""
    return (
        Q(low__lte=0)
        | Q(open__lt=F("low"))
        | Q(close__lt=F("low"))
        | Q(open__gt=F("high"))
        | Q(close__gt=F("high"))
        | Q(volume__lt=0)
        | Q(amount__lt=0)
        | Q(time__lt=trading_date_to_time(FIRST_SESSION))
    )


def _non_finite_keys(table: str) -> list[tuple[int, Any]]:
    """PostgreSQL's numeric keeps NaN (and Infinity), which compares greater than every
    number, so the portable condition misses it: ask for it by name."""
    if connection.vendor != "postgresql":
        return []  # SQLite cannot store NaN (it becomes NULL, refused by NOT NULL)
    columns = (*PRICES, "amount")
    where = " OR ".join(f"{c} IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT instrument_id, "time" FROM {connection.ops.quote_name(table)} WHERE {where}')
        return [tuple(row) for row in cursor.fetchall()]


def describe(bar: Any) -> str:
    """What is wrong with a stored bar (``DailyBar`` or its historical model)."""
    values = {name: getattr(bar, name) for name in (*PRICES, "amount")}
    for name, value in values.items():
        if value is not None and not Decimal(str(value)).is_finite():
            return f"{name} is not a finite number"
    if bar.low <= 0:
        return "low is not positive"
    if not bar.low <= bar.open <= bar.high or not bar.low <= bar.close <= bar.high:
        return "open and close must lie between low and high"
    if bar.volume < 0 or (bar.amount is not None and bar.amount < 0):
        return "negative volume or amount"
    return "dated before the first session of any Chinese exchange"


def hold_invalid_bars(daily_bar: Any, quarantined_bar: Any) -> int:
    """Hold every invalid stored bar (once: pending ones are not held again); return how many
    were newly held. Takes the models so a migration can pass its historical ones."""
    bars = list(daily_bar.objects.filter(invalid_condition()).iterator())
    for instrument_id, time in _non_finite_keys(daily_bar._meta.db_table):
        bars += list(daily_bar.objects.filter(instrument_id=instrument_id, time=time))
    held = 0
    for bar in bars:
        day = time_to_trading_date(bar.time)
        if quarantined_bar.objects.filter(instrument_id=bar.instrument_id, day=day, status="pending").exists():
            continue
        quarantined_bar.objects.create(
            instrument_id=bar.instrument_id,
            day=day,
            kind="stored",
            reason=REASON.format(problem=describe(bar)),
            old=bar_values(bar),
            new=None,
        )
        held += 1
    return held
