"""TimescaleDB only (a no-op on PostgreSQL and SQLite): compressed history, weekly and monthly aggregates.

- **Compression**: chunks of ``prices_dailybar`` are compressed column-wise, one segment per
  instrument ordered by time descending (what every read asks for: one instrument, a date
  range, newest or oldest first), by a policy once a chunk ends more than 60 days ago —
  ~40 trading days, far past the sync's overlap (``SYNC_OVERLAP_DAYS``, 3 trading days), so
  routine syncs write only uncompressed chunks; a late revision decompresses just the
  changed instrument's batch of that chunk, which the policy compresses again.
  Measured in ``bench/README.md``: ~157 bytes per bar before, ~39 after, indexes included.
- The index ``create_hypertable`` adds on ``time DESC`` duplicates the model's
  ``dailybar_time_idx`` (a B-tree scans both ways): dropped, ~8 bytes a bar saved.
- **Continuous aggregates** ``prices_dailybar_weekly`` and ``prices_dailybar_monthly``: raw
  (unadjusted) bars per instrument per Monday-Sunday week / calendar month in
  Asia/Shanghai, with real-time aggregation (rows after the last refresh come from the raw
  bars, so the current week shows). They keep the first and last bar time of each bucket
  and the count of days with a known amount, so either dating convention and the
  "amount unknown if any day's is" rule can be served from them. Refreshed by a policy
  every hour and by the sync after it writes (``prices.timescale.refresh_aggregates``).
- ``etfsync_aggregate_is_current(view, lo, hi)``: whether an aggregate answers for buckets in
  ``[lo, hi)`` what aggregating the bars now would (see ``prices.timescale``). PL/pgSQL, so a
  TimescaleDB whose catalog differs makes it answer false (reads then aggregate the days)
  instead of failing the query.
"""

from django.db import migrations

AGGREGATE_SQL = """
CREATE MATERIALIZED VIEW {view}
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT instrument_id,
       time_bucket(INTERVAL '{width}', "time", 'Asia/Shanghai') AS bucket,
       min("time") AS first_time,
       max("time") AS last_time,
       first(open, "time") AS open,
       max(high) AS high,
       min(low) AS low,
       last(close, "time") AS close,
       sum(volume) AS volume,
       sum(amount) AS amount,
       count(amount) AS amount_days,
       count(*) AS days
FROM prices_dailybar
GROUP BY instrument_id, bucket
WITH NO DATA;
SELECT add_continuous_aggregate_policy('{view}', start_offset => NULL, end_offset => NULL,
                                       schedule_interval => INTERVAL '1 hour');
"""

CURRENT_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION etfsync_aggregate_is_current(view_name text, lo timestamptz, hi timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    lo_us bigint := CASE WHEN lo IS NULL THEN -9223372036854775808
                         ELSE (extract(epoch FROM lo) * 1000000)::bigint END;
    hi_us bigint := CASE WHEN hi IS NULL THEN 9223372036854775807
                         ELSE (extract(epoch FROM hi) * 1000000)::bigint END;
    current boolean;
BEGIN
    -- Below the watermark the materialized rows are current unless a write since the last
    -- refresh touched the range: logged per hypertable, then (after a refresh) per aggregate.
    -- Above it the view aggregates the bars itself (real-time aggregation).
    SELECT NOT EXISTS (
               SELECT 1 FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l
               WHERE l.hypertable_id = a.raw_hypertable_id
                 AND l.lowest_modified_value < hi_us AND l.greatest_modified_value >= lo_us)
       AND NOT EXISTS (
               SELECT 1 FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l
               JOIN _timescaledb_catalog.continuous_aggs_watermark w ON w.mat_hypertable_id = l.materialization_id
               WHERE l.materialization_id = a.mat_hypertable_id
                 AND l.lowest_modified_value < least(hi_us, w.watermark)
                 AND l.greatest_modified_value >= lo_us)
    INTO current
    FROM _timescaledb_catalog.continuous_agg a
    WHERE a.user_view_schema = current_schema() AND a.user_view_name = view_name;
    RETURN coalesce(current, false);
EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function THEN
    RETURN false;
END
$$;
"""

FORWARD_SQL = [
    "DROP INDEX IF EXISTS prices_dailybar_time_idx",
    "ALTER TABLE prices_dailybar SET (timescaledb.compress, timescaledb.compress_segmentby = 'instrument_id', "
    "timescaledb.compress_orderby = 'time DESC')",
    "SELECT add_compression_policy('prices_dailybar', compress_after => INTERVAL '60 days')",
    AGGREGATE_SQL.format(view="prices_dailybar_weekly", width="1 week"),
    AGGREGATE_SQL.format(view="prices_dailybar_monthly", width="1 month"),
    CURRENT_FUNCTION_SQL,
]

BACKWARD_SQL = [
    "DROP FUNCTION IF EXISTS etfsync_aggregate_is_current(text, timestamptz, timestamptz)",
    "DROP MATERIALIZED VIEW IF EXISTS prices_dailybar_monthly",
    "DROP MATERIALIZED VIEW IF EXISTS prices_dailybar_weekly",
    "SELECT remove_compression_policy('prices_dailybar', if_exists => true)",
    "SELECT decompress_chunk(c, if_compressed => true) FROM show_chunks('prices_dailybar') c",
    "ALTER TABLE prices_dailybar SET (timescaledb.compress = false)",
    'CREATE INDEX IF NOT EXISTS prices_dailybar_time_idx ON prices_dailybar ("time" DESC)',
]


def is_hypertable(schema_editor) -> bool:
    """Whether ``prices_dailybar`` is a TimescaleDB hypertable on this connection's database."""
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'prices_dailybar')"
        )
        return cursor.fetchone()[0]


def forward(apps, schema_editor):
    if is_hypertable(schema_editor):
        for sql in FORWARD_SQL:
            schema_editor.execute(sql, params=None)


def backward(apps, schema_editor):
    if is_hypertable(schema_editor):
        for sql in BACKWARD_SQL:
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("prices", "0006_corporateaction_source_evidence"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
