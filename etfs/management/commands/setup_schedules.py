"""Create or update the sync's django-q2 schedules (safe to run again)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from etfs.schedules import SCHEDULES, install_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules of the sync (by name; running it again changes nothing)."

    def handle(self, *args, **options) -> None:
        specs = {spec.name: spec for spec in SCHEDULES}
        for name, created in install_schedules():
            spec = specs[name]
            when = (
                f"weekly (day {spec.weekday}) at {spec.at:%H:%M}"
                if spec.weekday is not None
                else f"daily at {spec.at:%H:%M}"
            )
            verb = self.style.SUCCESS("created") if created else "up to date"
            self.stdout.write(f"{name}: {verb} — {spec.func}{spec.args} {when} Asia/Shanghai")
        self.stdout.write("Run `python manage.py qcluster` to execute them.")
