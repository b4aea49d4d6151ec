"""Cursor pagination of bars keyed on the trading date (and the symbol, for many instruments).

A page is "at most N bars from date D on"; its ``next`` link carries the date of the first
bar not shown (for 1w/1M its ``period_start``, the bucket's first trading day). That is one
index range scan per page whatever the depth (no OFFSET), it works the same for daily and
aggregated bars, and pages stay stable when new bars arrive at the end. Answers over many
instruments (ordered by symbol, then date) carry the symbol too.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from prices.columns import PERIOD_START
from prices.queries import MAX_DATE, MIN_DATE


class BarCursorPagination(BasePagination):
    """Pages of bars; ``page_size`` defaults to 1000 (four years of daily bars), at most 10000."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = 1000
    max_page_size = 10000

    def __init__(self) -> None:
        self.next_date: dt.date | None = None
        self.next_symbol: str | None = None
        self.request: Request | None = None

    @staticmethod
    def encode_cursor(day: dt.date, symbol: str | None = None) -> str:
        text = f"d={day.isoformat()}" + (f"&s={symbol}" if symbol else "")
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @staticmethod
    def decode_cursor_with_symbol(value: str) -> tuple[dt.date, str | None]:
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            if not text.startswith("d="):
                raise ValueError(text)
            date_text, _, symbol_part = text[2:].partition("&")
            day = dt.date.fromisoformat(date_text)
            if not MIN_DATE <= day <= MAX_DATE:
                raise ValueError(text)
            if symbol_part and not symbol_part.startswith("s="):
                raise ValueError(text)
            return day, symbol_part[2:] or None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None

    @classmethod
    def decode_cursor(cls, value: str) -> dt.date:
        return cls.decode_cursor_with_symbol(value)[0]

    def get_page_size(self, params: dict[str, Any]) -> int:
        return min(params.get(self.page_size_query_param) or self.page_size, self.max_page_size)

    def paginate_rows(
        self, fetch: Callable[[dt.date | None, int], list[tuple]], params: dict[str, Any], request: Request
    ) -> list[tuple]:
        """One page of ``prices.columns.COLUMNS`` tuples from ``fetch(start, limit)``; ``params`` are the
        validated query parameters."""
        self.request = request
        start = params.get("start")
        if params.get(self.cursor_query_param):
            cursor = self.decode_cursor(params[self.cursor_query_param])
            start = max(start, cursor) if start else cursor
        size = self.get_page_size(params)
        rows = fetch(start, size + 1)
        self.next_date = rows[size][PERIOD_START] if len(rows) > size else None
        return rows[:size]

    def get_next_link(self) -> str | None:
        if self.next_date is None or self.request is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self.encode_cursor(self.next_date, self.next_symbol))

    def get_paginated_response(self, data: list[dict[str, Any]]) -> Response:
        return Response({"next": self.get_next_link(), "results": data})
