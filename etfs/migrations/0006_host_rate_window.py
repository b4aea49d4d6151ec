"""PostgreSQL: the shared request budget per quote host (``MARKETDATA_RATE_SHARING=database``).

An unlogged table (losing it in a crash loses nothing worth keeping) and a function that
checks and records one request start in one round trip, on the server's clock. See
``etfs/providers/sharedlimit.py``. Nothing on SQLite (its processes share a file budget).
"""

from django.db import migrations

CREATE = """
CREATE UNLOGGED TABLE IF NOT EXISTS etfs_hostratewindow (
    host text PRIMARY KEY,
    cap integer NOT NULL,
    head integer NOT NULL,
    paused_until double precision NOT NULL,
    starts double precision[] NOT NULL
);
CREATE OR REPLACE FUNCTION etfsync_rate_start(p_host text, p_cap integer, p_window double precision,
                                              p_pause double precision) RETURNS double precision AS $$
DECLARE
    now_t double precision := extract(epoch FROM clock_timestamp());
    w etfs_hostratewindow%ROWTYPE;
BEGIN
    INSERT INTO etfs_hostratewindow VALUES (p_host, p_cap, 0, 0, array_fill('-infinity'::float8, ARRAY[p_cap]))
        ON CONFLICT (host) DO NOTHING;
    SELECT * INTO w FROM etfs_hostratewindow WHERE host = p_host FOR UPDATE;
    IF p_pause > 0 THEN
        UPDATE etfs_hostratewindow SET paused_until = greatest(w.paused_until, now_t + p_pause) WHERE host = p_host;
        RETURN 0;
    END IF;
    IF w.paused_until > now_t THEN
        RETURN w.paused_until - now_t;
    END IF;
    IF w.cap <> p_cap THEN
        w.cap := p_cap; w.head := 0; w.starts := array_fill('-infinity'::float8, ARRAY[p_cap]);
    END IF;
    IF w.starts[w.head + 1] + p_window > now_t THEN
        UPDATE etfs_hostratewindow SET cap = w.cap, head = w.head, starts = w.starts WHERE host = p_host;
        RETURN w.starts[w.head + 1] + p_window - now_t;
    END IF;
    w.starts[w.head + 1] := now_t;
    UPDATE etfs_hostratewindow SET cap = w.cap, head = (w.head + 1) % w.cap, starts = w.starts WHERE host = p_host;
    RETURN 0;
END
$$ LANGUAGE plpgsql;
"""
DROP = "DROP FUNCTION IF EXISTS etfsync_rate_start(text, integer, double precision, double precision); DROP TABLE IF EXISTS etfs_hostratewindow;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("etfs", "0005_fund_profiles_and_universe_report")]

    operations = [migrations.RunPython(forwards, backwards)]
