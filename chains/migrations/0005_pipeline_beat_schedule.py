"""Schedule the send pipeline's periodic tasks in django-celery-beat (editable in the admin):
the confirmation sweep every 5 s and the re-enqueue of approved orders every 30 s."""

from django.db import migrations

SCHEDULES = [
    # name, task, every (seconds), expires (seconds), description
    ("Sweep confirmations", "chains.sweep_confirmations", 5, 30,
     "Follows broadcasting and confirming withdrawals on every network: confirmations, completion "
     "(ledger settled), reverts, re-orgs; re-sends the stored transaction of stale broadcasting orders."),
    ("Re-enqueue approved withdrawals", "chains.requeue_approved", 30, 25,
     "Starts the send task again for approved withdrawals that waited too long (a lost message, "
     "a kill switch lifted, retries exhausted)."),
]


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, expires, description in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": interval, "enabled": True, "expire_seconds": expires,
                      "description": description},
        )


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chains", "0004_pipeline_nonces_switches"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
