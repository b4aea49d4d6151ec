"""Daily bars keep their instrument without a per-row foreign key (see ``DailyBar.instrument``).

The unique (instrument, time) index already serves lookups by instrument, so the
foreign key's own index goes too. On PostgreSQL a trigger refuses to delete (or renumber)
an instrument that still has bars — from any client, as the foreign key did; the sync's
writer checks and locks the instruments of each batch once.
"""

import django.db.models.deletion
from django.db import migrations, models

GUARD_SQL = """
CREATE OR REPLACE FUNCTION etfsync_instrument_keeps_bars() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM prices_dailybar WHERE instrument_id = OLD.id) THEN
        RAISE EXCEPTION 'instrument % (id %) still has daily bars: deactivate it instead', OLD.symbol, OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
DROP TRIGGER IF EXISTS instrument_keeps_bars ON etfs_instrument;
CREATE TRIGGER instrument_keeps_bars BEFORE DELETE OR UPDATE OF id ON etfs_instrument
    FOR EACH ROW EXECUTE FUNCTION etfsync_instrument_keeps_bars();
"""

DROP_GUARD_SQL = """
DROP TRIGGER IF EXISTS instrument_keeps_bars ON etfs_instrument;
DROP FUNCTION IF EXISTS etfsync_instrument_keeps_bars();
"""


def create_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL, params=None)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARD_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("etfs", "0003_sync_schedules"),
        ("prices", "0002_dailybar_amount_unknown"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dailybar",
            name="instrument",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="daily_bars",
                to="etfs.instrument",
            ),
        ),
        migrations.RunPython(create_guard, drop_guard),
    ]
