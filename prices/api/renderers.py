"""CSV and Parquet renderers for DRF answers (the latest-bar screen) and content negotiation.

Long outputs (bar histories, cross-sections) do not go through a renderer: their views
stream bytes from ``prices.api.writers``. These classes still name the formats, so DRF's
``?format=`` negotiation and the OpenAPI schema know them.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from prices.api.writers import BOM, parquet_chunks
from prices.columns import DATE_COLUMNS

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


def wants_bom(renderer_context: Mapping | None) -> bool:
    request = (renderer_context or {}).get("request")
    return request is not None and str(request.query_params.get("bom", "")).lower() in ("1", "true")


class _Line:
    """A file-like sink for ``csv.writer`` that hands back each written line."""

    def write(self, value: str) -> str:
        return value


class CSVRenderer(BaseRenderer):
    """``text/csv`` with a header row; decimals keep their exact text; ``bom=1`` for Excel.

    Columns come from the renderer context's ``csv_header`` (so an empty result still has
    a header) or the first row.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping | None = None
    ) -> bytes:
        header = (renderer_context or {}).get("csv_header")
        rows = data if isinstance(data, list) else [data]
        if header is None:
            header = list(rows[0]) if rows and isinstance(rows[0], Mapping) else []
        writer = csv.writer(_Line(), lineterminator="\n")
        lines = [writer.writerow(header)]
        lines += [writer.writerow(["" if row.get(n) is None else row.get(n) for n in header]) for row in rows]
        return ((BOM if wants_bom(renderer_context) else "") + "".join(lines)).encode(self.charset)


class ParquetRenderer(BaseRenderer):
    """Apache Parquet of a list of rows (``csv_header`` names the columns; dates as ``date32``)."""

    media_type = PARQUET_MEDIA_TYPE
    format = "parquet"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping | None = None
    ) -> bytes:
        header = list((renderer_context or {}).get("csv_header") or [])
        rows = data if isinstance(data, list) else [data]
        index = {name: i for i, name in enumerate(header)}
        tuples = [
            tuple(
                dt.date.fromisoformat(row.get(n)) if n in DATE_COLUMNS and isinstance(row.get(n), str) else row.get(n)
                for n in header
            )
            for row in rows
        ]
        return b"".join(parquet_chunks([tuples], header, index))
