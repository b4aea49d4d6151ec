"""PostgreSQL: the shared request budget records when each request was sent, not only when it
was allowed (``etfs/providers/sharedlimit.py``: the invariant).

Replaces ``0006``'s ring of start times with entries ``(taken, sent)``: ``sent`` is infinity
until the client confirms its write, so a request held up between its start and its write
still counts. Three functions, each one round trip, all on the server's ``clock_timestamp()``.
The table is unlogged (losing it in a crash loses nothing worth keeping). Nothing on SQLite.
"""

import importlib

from django.db import migrations

previous = importlib.import_module("etfs.migrations.0006_host_rate_window")

CREATE = """
DROP FUNCTION IF EXISTS etfsync_rate_start(text, integer, double precision, double precision);
DROP TABLE IF EXISTS etfs_hostratewindow;
CREATE UNLOGGED TABLE IF NOT EXISTS etfs_hostbudget (
    host text PRIMARY KEY,
    cap integer NOT NULL,
    paused_until double precision NOT NULL,
    next_slot integer NOT NULL,
    taken double precision[] NOT NULL,
    sent double precision[] NOT NULL
);
-- Returns {wait, slot, taken}: wait 0 and the entry taken, or the seconds to wait and slot -1.
CREATE OR REPLACE FUNCTION etfsync_budget_take(p_host text, p_cap integer, p_window double precision,
                                               p_expiry double precision, p_poll double precision)
        RETURNS double precision[] AS $$
DECLARE
    now_t double precision := extract(epoch FROM clock_timestamp());
    w etfs_hostbudget%ROWTYPE;
    last_t double precision;
    i integer;
    wait_t double precision := 'infinity';
BEGIN
    INSERT INTO etfs_hostbudget VALUES (p_host, p_cap, 0, 0, array_fill('-infinity'::float8, ARRAY[p_cap]),
                                        array_fill('-infinity'::float8, ARRAY[p_cap]))
        ON CONFLICT (host) DO NOTHING;
    SELECT * INTO w FROM etfs_hostbudget WHERE host = p_host FOR UPDATE;
    IF w.paused_until > now_t THEN
        RETURN ARRAY[w.paused_until - now_t, -1, 0];
    END IF;
    IF w.cap <> p_cap THEN
        w.cap := p_cap;
        w.next_slot := 0;
        w.taken := array_fill('-infinity'::float8, ARRAY[p_cap]);
        w.sent := array_fill('-infinity'::float8, ARRAY[p_cap]);
        UPDATE etfs_hostbudget SET cap = w.cap, next_slot = 0, taken = w.taken, sent = w.sent WHERE host = p_host;
    END IF;
    -- From the oldest taken (the likeliest free): one look when nobody waits.
    FOR step IN 0..w.cap - 1 LOOP
        i := (w.next_slot + step) % w.cap + 1;
        last_t := CASE WHEN w.sent[i] = 'infinity' THEN w.taken[i] + p_expiry ELSE w.sent[i] END;
        IF last_t + p_window <= now_t THEN
            UPDATE etfs_hostbudget SET taken[i] = now_t, sent[i] = 'infinity', next_slot = i % w.cap
                WHERE host = p_host;
            RETURN ARRAY[0, i - 1, now_t];
        END IF;
        wait_t := least(wait_t, CASE WHEN w.sent[i] = 'infinity' THEN p_poll ELSE last_t + p_window - now_t END);
    END LOOP;
    RETURN ARRAY[greatest(wait_t, 1e-6), -1, 0];
END
$$ LANGUAGE plpgsql;
-- The request of entry (p_slot, p_taken) was written (p_sent) or given back unsent.
CREATE OR REPLACE FUNCTION etfsync_budget_done(p_host text, p_slot integer, p_taken double precision,
                                               p_sent boolean) RETURNS double precision AS $$
DECLARE
    now_t double precision := extract(epoch FROM clock_timestamp());
BEGIN
    UPDATE etfs_hostbudget
        SET taken[p_slot + 1] = CASE WHEN p_sent THEN p_taken ELSE '-infinity' END,
            sent[p_slot + 1] = CASE WHEN p_sent THEN now_t ELSE '-infinity' END
        WHERE host = p_host AND taken[p_slot + 1] = p_taken;
    RETURN now_t;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION etfsync_budget_pause(p_host text, p_seconds double precision)
        RETURNS double precision AS $$
BEGIN
    UPDATE etfs_hostbudget SET paused_until = greatest(paused_until, extract(epoch FROM clock_timestamp()) + p_seconds)
        WHERE host = p_host;
    RETURN 0;
END
$$ LANGUAGE plpgsql;
"""
DROP = """
DROP FUNCTION IF EXISTS etfsync_budget_take(text, integer, double precision, double precision, double precision);
DROP FUNCTION IF EXISTS etfsync_budget_done(text, integer, double precision, boolean);
DROP FUNCTION IF EXISTS etfsync_budget_pause(text, double precision);
DROP TABLE IF EXISTS etfs_hostbudget;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)
        schema_editor.execute(previous.CREATE, params=None)


class Migration(migrations.Migration):
    dependencies = [("etfs", "0007_calendar_day")]

    operations = [migrations.RunPython(forwards, backwards)]
