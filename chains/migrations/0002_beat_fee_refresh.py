"""Schedule chains.refresh_fee_estimates every 60 s in django-celery-beat (editable in the admin)."""

from django.db import migrations

TASK_NAME = "Refresh coin fee estimates"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "chains.refresh_fee_estimates",
            "interval": every_minute,
            "enabled": True,
            "expire_seconds": 55,  # a run that waited in the queue past the next one is dropped
            "description": "Reads each enabled coin's network fee from its chain (SPEC: fee estimates).",
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chains", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
