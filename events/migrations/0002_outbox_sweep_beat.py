"""Schedule the outbox sweep in django-celery-beat (editable in the admin): every 10 s it
re-dispatches events left in the outbox and re-queues due webhook deliveries."""

from django.db import migrations

NAME = "Sweep the event outbox"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=10, period="seconds")
    PeriodicTask.objects.get_or_create(name=NAME, defaults={
        "task": "events.sweep_outbox", "interval": interval, "enabled": True, "expire_seconds": 30,
        "description": "Dispatches events still in the outbox (a lost message) and queues webhook deliveries "
                       "that are due (retries past a few minutes, a worker that died mid-attempt).",
    })


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
