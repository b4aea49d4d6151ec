"""Dates as users write them: ``2024-01-02`` (ISO) or ``20240102`` (Tushare, AKShare, East Money).

One parser for every API parameter and command option, so a date that works in one place
works everywhere.
"""

from __future__ import annotations

import datetime as dt
import re

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
DATE_FORMATS_TEXT = "YYYY-MM-DD or YYYYMMDD"
# The same, as a JSON-schema pattern for the OpenAPI documents.
DATE_PATTERN = r"^\d{4}-?\d{2}-?\d{2}$"


def parse_date(value: str) -> dt.date:
    """``YYYY-MM-DD`` or ``YYYYMMDD``; ``ValueError`` naming the input for anything else."""
    text = value.strip() if isinstance(value, str) else ""
    match = _ISO.match(text) or _COMPACT.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a date ({DATE_FORMATS_TEXT})")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date: {exc}") from None
