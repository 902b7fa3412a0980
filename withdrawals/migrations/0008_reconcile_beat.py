"""Schedule the hot-wallet reconciliation (withdrawals.reconcile_hot_wallets) every 10 minutes in
django-celery-beat (editable in the admin under Periodic tasks)."""

from django.db import migrations

NAME = "Reconcile hot wallets"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=600, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={"task": "withdrawals.reconcile_hot_wallets", "interval": interval, "enabled": True,
                  "expire_seconds": 540,
                  "description": "Compares each hot wallet's chain balance with its opening balance plus the "
                                 "console's movements; a difference beyond the dust raises an alert and pauses "
                                 "sending on that network (docs/PIPELINE.md, Reconciliation)."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("withdrawals", "0007_reconciliation_models"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
