"""TimescaleDB's own machinery for the bar table: continuous aggregates, their freshness, status.

Migration ``prices.0007`` creates (on TimescaleDB only) the compression policy of
``prices_dailybar`` and the continuous aggregates named in :data:`AGGREGATE_VIEWS`. This module
refreshes those aggregates after a sync writes, tells the read path whether an aggregate is
current for a date range, and reports hypertables, chunks, compression, jobs and aggregates
for ``manage.py timescale_status``. Everything here answers "nothing to do" on PostgreSQL and
SQLite.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

logger = logging.getLogger(__name__)

BAR_TABLE = "prices_dailybar"
AGGREGATE_VIEWS = {"1w": "prices_dailybar_weekly", "1M": "prices_dailybar_monthly"}


def has_timescaledb() -> bool:
    """Whether the default database has the TimescaleDB extension (one catalog lookup)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')")
        return cursor.fetchone()[0]


def existing_aggregates() -> list[str]:
    """Our continuous aggregates that exist in this database (none before migrate or elsewhere)."""
    if not has_timescaledb():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates "
            "WHERE hypertable_name = %s AND view_name = ANY(%s) ORDER BY view_name",
            [BAR_TABLE, list(AGGREGATE_VIEWS.values())],
        )
        return [row[0] for row in cursor.fetchall()]


def refresh_aggregates(start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[str]:
    """Bring the continuous aggregates up to date with the bar table; returns those refreshed.

    TimescaleDB logs which time ranges writes touched since the last refresh, so a refresh
    recomputes only the buckets that changed inside the window (the whole history by
    default): cheap after a daily sync, a full pass after a backfill. It cannot run inside a
    transaction: callers in one (tests, an outer ``atomic``) get ``[]`` and the read path
    keeps answering from the bars until the next refresh (policy or sync), never stale data.
    """
    if connection.in_atomic_block:
        logger.info("continuous aggregates not refreshed: inside a transaction")
        return []
    views = existing_aggregates()
    with connection.cursor() as cursor:
        for view in views:
            cursor.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", [view, start, end])
    return views


def aggregate_is_current(view: str, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    """Whether ``view`` gives what aggregating the bars now would, for buckets in ``[start, end)``.

    Asks the database function of migration ``prices.0007`` (it reads TimescaleDB's
    invalidation logs and watermark); reads use it inside their own query instead.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT etfsync_aggregate_is_current(%s, %s, %s)", [view, start, end])
        return cursor.fetchone()[0]


# --- Status (manage.py timescale_status) ------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """One table of the status report."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


STATUS_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "Hypertables",
        """
        SELECT h.hypertable_name, h.num_chunks, d.time_interval::text, h.compression_enabled,
               pg_size_pretty(hypertable_size(format('%%I.%%I', h.hypertable_schema, h.hypertable_name)::regclass))
        FROM timescaledb_information.hypertables h
        LEFT JOIN timescaledb_information.dimensions d
               ON d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
              AND d.dimension_number = 1
        ORDER BY h.hypertable_schema, h.hypertable_name
        """,
    ),
    (
        "Chunks of prices_dailybar",
        """
        SELECT c.chunk_name, c.range_start::date, c.range_end::date, c.is_compressed,
               pg_size_pretty(coalesce(s.before_compression_total_bytes, 0)),
               pg_size_pretty(coalesce(s.after_compression_total_bytes, 0))
        FROM timescaledb_information.chunks c
        LEFT JOIN chunk_compression_stats('prices_dailybar') s
               ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name
        WHERE c.hypertable_name = 'prices_dailybar'
        ORDER BY c.range_start
        """,
    ),
    (
        "Compression of prices_dailybar",
        """
        SELECT s.total_chunks, s.number_compressed_chunks,
               pg_size_pretty(s.before_compression_total_bytes), pg_size_pretty(s.after_compression_total_bytes),
               round(s.before_compression_total_bytes::numeric / nullif(s.after_compression_total_bytes, 0), 1),
               (SELECT string_agg(format('%%s %%s', attname, coalesce(
                           CASE WHEN segmentby_column_index IS NOT NULL THEN 'segmentby' END,
                           CASE WHEN orderby_column_index IS NOT NULL THEN
                                'orderby ' || CASE WHEN orderby_asc THEN 'asc' ELSE 'desc' END END)), ', ')
                FROM timescaledb_information.compression_settings
                WHERE hypertable_name = 'prices_dailybar')
        FROM hypertable_compression_stats('prices_dailybar') s
        """,
    ),
    (
        "Continuous aggregates",
        """
        SELECT a.view_name, a.materialized_only, w.watermark,
               pg_size_pretty(hypertable_size(format('%%I.%%I', a.materialization_hypertable_schema,
                                                     a.materialization_hypertable_name)::regclass))
        FROM timescaledb_information.continuous_aggregates a
        LEFT JOIN LATERAL (
            SELECT CASE WHEN cw.watermark < 0 THEN 'nothing yet'  -- the initial watermark is 4714 BC
                        ELSE _timescaledb_functions.to_timestamp(cw.watermark)::text END AS watermark
            FROM _timescaledb_catalog.continuous_agg ca
            JOIN _timescaledb_catalog.continuous_aggs_watermark cw ON cw.mat_hypertable_id = ca.mat_hypertable_id
            WHERE ca.user_view_schema = a.view_schema AND ca.user_view_name = a.view_name
        ) w ON true
        ORDER BY a.view_name
        """,
    ),
    (
        "Jobs (policies)",
        """
        SELECT j.job_id, j.proc_name, coalesce(j.hypertable_name, ''), j.schedule_interval, j.config::text,
               s.last_run_status, s.last_successful_finish, s.next_start, s.total_failures
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
        WHERE j.proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate', 'policy_retention')
        ORDER BY j.job_id
        """,
    ),
)

STATUS_COLUMNS = {
    "Hypertables": ("hypertable", "chunks", "chunk interval", "compression", "size"),
    "Chunks of prices_dailybar": ("chunk", "from", "to", "compressed", "before", "after"),
    "Compression of prices_dailybar": ("chunks", "compressed", "before", "after", "ratio", "settings"),
    "Continuous aggregates": ("view", "materialized only", "materialized up to", "size"),
    "Jobs (policies)": (
        "job",
        "procedure",
        "hypertable",
        "every",
        "config",
        "last run",
        "last success",
        "next start",
        "failures",
    ),
}


def status() -> list[Section]:
    """The status report's sections, read from TimescaleDB's information views."""
    sections = []
    with connection.cursor() as cursor:
        for title, sql in STATUS_QUERIES:
            cursor.execute(sql, [])  # with parameters, so that %% reads as %
            sections.append(Section(title, STATUS_COLUMNS[title], list(cursor.fetchall())))
    return sections


def compress_chunks(older_than: dt.timedelta | None = None) -> int:
    """Compress the bar table's chunks now (what the policy does on its schedule); returns how many.

    ``older_than`` is measured from now to a chunk's end, as the policy does; ``None``
    compresses every chunk, the current one too (tests, benchmarks).
    """
    with connection.cursor() as cursor:
        if older_than is None:
            cursor.execute(f"SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('{BAR_TABLE}') c")
        else:
            cursor.execute(
                "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks(%s, older_than => %s) c",
                [BAR_TABLE, older_than],  # type: ignore[list-item]  # psycopg2 sends a timedelta as an interval
            )
        return len(cursor.fetchall())


def chunk_states() -> Iterable[tuple[str, bool, int]]:
    """(chunk, compressed, status bits) of every bar chunk; status 9 = compressed with uncompressed rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.compressed_chunk_id IS NOT NULL, c.status "
            "FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id "
            "WHERE h.table_name = %s ORDER BY c.id",
            [BAR_TABLE],
        )
        return cursor.fetchall()
