"""CSV output: rows rendered as they are produced, so a long history streams in bounded memory."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from rest_framework.renderers import BaseRenderer


class _Line:
    """A file-like sink for ``csv.writer`` that hands back each written line."""

    def write(self, value: str) -> str:
        return value


class CSVRenderer(BaseRenderer):
    """``text/csv`` with a header row; decimals keep their exact text.

    ``render`` serves small lists (the latest-bar screen); views with long outputs call
    ``stream`` and return a streaming response. Columns come from the renderer context's
    ``csv_header`` (so an empty result still has a header) or the first row.
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
        return "".join(self.stream(rows, header)).encode(self.charset)

    def stream(self, rows: Iterable[Mapping[str, Any]], header: Sequence[str]) -> Iterator[str]:
        writer = csv.writer(_Line(), lineterminator="\n")
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(row.get(name)) for name in header])


def _cell(value: Any) -> Any:
    return "" if value is None else value
