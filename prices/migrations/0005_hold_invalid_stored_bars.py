"""Hold bars stored invalid by earlier versions (NaN, close above high, dated 1479) for a
curator (``prices.integrity``): nothing is deleted; the quarantine admin decides."""

from django.db import migrations


def hold(apps, schema_editor):
    from prices.integrity import hold_invalid_bars

    hold_invalid_bars(apps.get_model("prices", "DailyBar"), apps.get_model("prices", "QuarantinedBar"))


class Migration(migrations.Migration):
    dependencies = [("prices", "0004_bar_quarantine_and_revisions")]

    operations = [migrations.RunPython(hold, migrations.RunPython.noop, elidable=True)]
