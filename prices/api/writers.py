"""Bar rows straight to bytes: JSON text, CSV lines and Parquet row groups, no serializer per row.

Rows are tuples in ``prices.columns.COLUMNS`` order; a writer picks the requested columns by
position. JSON numbers are written from the ``Decimal`` text (exact, and what
``json.loads`` reads back as the same float), CSV keeps the decimal text, Parquet gets
typed columns:

- ``date``, ``period_start``: ``date32``;
- prices, ``pre_close``, ``change``, ``pct_chg``, ``amount``, ``adj_factor``, ``adj_offset``:
  ``float64`` — not ``decimal128``: pandas reads ``decimal128`` as Python ``Decimal`` objects
  (slow, no vector maths), while every stored price (≤ 14 significant digits) and amount
  (≤ 15) survives the round trip through a double exactly, as the JSON numbers do;
- ``volume``: ``int64``; ``symbol``: ``string``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from prices.columns import COLUMNS, DATE_COLUMNS, INT_COLUMNS, JSON_STRINGS, TEXT_COLUMNS

INDEX = {name: i for i, name in enumerate(COLUMNS)}
BOM = "\ufeff"


def picker(columns: Sequence[str], index: dict[str, int] | None = None) -> Callable[[tuple], tuple]:
    """A C-level function taking a row to the tuple of ``columns`` (always a tuple, even for one)."""
    positions = [(index or INDEX)[name] for name in columns]
    if len(positions) == 1:
        only = positions[0]
        return lambda row: (row[only],)
    return itemgetter(*positions)


def json_rows(rows: Iterable[tuple], columns: Sequence[str]) -> str:
    """A JSON array of objects with ``columns`` as keys, built as text.

    Each row is one ``%`` with a template: ``str`` of a ``Decimal`` is its exact text, of a
    date its ISO form, of a float its shortest repr, of an int its digits; symbols are plain
    ASCII (``510300.SH``). ``None`` comes out as ``None`` and is turned into ``null`` once
    over the whole text: no value of these columns can contain ``:None`` otherwise.
    """
    template = _json_template(columns)
    pick = picker(columns)
    return ("[" + ",".join([template % pick(row) for row in rows]) + "]").replace(":None", ":null")


def _json_template(columns: Sequence[str]) -> str:
    """A ``%`` template of one JSON object with ``columns`` as keys (``JSON_STRINGS`` quoted)."""
    return "{" + ",".join(f'"{n}":"%s"' if n in JSON_STRINGS else f'"{n}":%s' for n in columns) + "}"


def lines_of(rows: Sequence[tuple], columns: Sequence[str], fmt: str) -> list[str]:
    """One CSV line (no line end) or JSON object per row, as ``csv_chunks``/``json_rows`` write them."""
    if fmt == "json":
        template = _json_template(columns)
        pick = picker(columns)
        return [(template % pick(row)).replace(":None", ":null") for row in rows]
    sink = _Lines()
    writer = csv.writer(sink, lineterminator="\n")
    pick = picker(columns)
    lines = []
    for row in rows:
        writer.writerow(pick(row))
        lines.append(sink.take()[:-1])
    return lines


def json_page(rows: Iterable[tuple], columns: Sequence[str], next_link: str | None) -> bytes:
    return json_page_text(json_rows(rows, columns), next_link)


def json_page_text(results: str, next_link: str | None) -> bytes:
    """A page around a JSON array already written (by ``json_rows`` or by the database)."""
    return ('{"next":' + json.dumps(next_link) + ',"results":' + results + "}").encode()


def csv_line_chunks(batches: Iterable[list[str]], columns: Sequence[str], *, bom: bool = False) -> Iterator[bytes]:
    """The header, then batches of CSV lines the database wrote (values never need quoting)."""
    yield ((BOM if bom else "") + ",".join(columns) + "\n").encode()
    for lines in batches:
        if lines:
            yield ("\n".join(lines) + "\n").encode()


class _Lines:
    """A file-like sink for ``csv.writer`` collecting lines of one batch."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, value: str) -> None:
        self.parts.append(value)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def csv_chunks(batches: Iterable[Iterable[tuple]], columns: Sequence[str], *, bom: bool = False) -> Iterator[bytes]:
    """The header, then one chunk of lines per batch (one socket write per batch, not per row)."""
    sink = _Lines()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(columns)
    pick = picker(columns)
    yield ((BOM if bom else "") + sink.take()).encode()
    for batch in batches:
        writer.writerows(map(pick, batch))  # csv writes None as an empty field
        text = sink.take()
        if text:
            yield text.encode()


def _arrow_type(name: str) -> Any:
    import pyarrow as pa  # a large library: loaded only when Parquet is asked for

    if name in DATE_COLUMNS:
        return pa.date32()
    if name in INT_COLUMNS:
        return pa.int64()
    if name in TEXT_COLUMNS:
        return pa.string()
    return pa.float64()


def arrow_schema(columns: Sequence[str]) -> Any:
    import pyarrow as pa  # here: a large library, see _arrow_type

    return pa.schema([pa.field(name, _arrow_type(name)) for name in columns])


def _float_column(values: list[Any]) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


class _Sink(io.RawIOBase):
    """A write-only file for ``pyarrow``: what was written since the last ``take``."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def parquet_chunks(
    batches: Iterable[Sequence[tuple]], columns: Sequence[str], index: dict[str, int] | None = None
) -> Iterator[bytes]:
    """A Parquet file streamed one row group per batch; an empty answer is a file with the schema only."""
    # Here: a large library, see _arrow_type.
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = index or INDEX
    schema = arrow_schema(columns)
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="snappy")
    try:
        for batch in batches:
            if not batch:
                continue
            arrays = []
            for name in columns:
                values = [row[index[name]] for row in batch]
                if name not in DATE_COLUMNS | INT_COLUMNS | TEXT_COLUMNS:
                    values = _float_column(values)
                arrays.append(pa.array(values, type=_arrow_type(name)))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            chunk = sink.take()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.take()
