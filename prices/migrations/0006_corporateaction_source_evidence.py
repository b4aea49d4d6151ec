"""Corporate actions say how they were found (provider series, snapshot, manual; ``derived``
is the legacy close-minus-change reading) and hold conversion ratios to ten decimals."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("prices", "0005_hold_invalid_stored_bars"),
    ]

    operations = [
        migrations.AlterField(
            model_name="corporateaction",
            name="source",
            field=models.CharField(
                choices=[
                    ("provider", "Provider's adjusted series"),
                    ("snapshot", "List snapshot (f18), unconfirmed"),
                    ("manual", "Entered by a curator"),
                    ("derived", "Quotes (close - change), legacy"),
                ],
                default="manual",
                help_text="How the action was found; the sync never overwrites a manual row",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="corporateaction",
            name="split_ratio",
            field=models.DecimalField(
                decimal_places=10,
                default=1,
                help_text="New shares per old share (2 = 1:2 split)",
                max_digits=20,
            ),
        ),
        migrations.AddField(
            model_name="corporateaction",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
