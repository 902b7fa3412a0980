"""Schedule the overdue check (fiat.flag_overdue_payments) hourly in django-celery-beat (editable
in the admin under Periodic tasks): fiat withdrawals sent longer than FIAT_SENT_OVERDUE_BUSINESS_DAYS
without a statement line are flagged for staff (docs/FIAT.md)."""

from django.db import migrations

NAME = "Fiat payments overdue check"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=3600, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={"task": "fiat.flag_overdue_payments", "interval": interval, "enabled": True,
                  "expire_seconds": 3000,
                  "description": "Flags fiat withdrawals sent to the bank that no statement has matched within "
                                 "the configured business days (the Overdue filter of Fiat withdrawals)."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fiat", "0004_role_permissions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
