"""Schedule the P2P sweep (p2p.trades_sweep) every minute in django-celery-beat (editable in the
admin under Periodic tasks): unpaid trades past their window expire, paid trades past the release
window go to appeal."""

from django.db import migrations

NAME = "P2P trades sweep"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={"task": "p2p.trades_sweep", "interval": interval, "enabled": True, "expire_seconds": 55,
                  "description": "Expires unpaid P2P trades past their payment window (escrow back to the seller) "
                                 "and opens an appeal for paid trades not released in the release window; never "
                                 "releases (docs/P2P.md)."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("p2p", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
