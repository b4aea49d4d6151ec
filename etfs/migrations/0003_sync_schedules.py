"""Create the sync's django-q2 schedules (idempotent: update_or_create by name)."""

from django.db import migrations


def create_schedules(apps, schema_editor):
    from etfs.schedules import install_schedules

    install_schedules(apps.get_model("django_q", "Schedule"))


def delete_schedules(apps, schema_editor):
    from etfs.schedules import remove_schedules

    remove_schedules(apps.get_model("django_q", "Schedule"))


class Migration(migrations.Migration):
    dependencies = [
        ("etfs", "0002_syncrun_queued_status"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
