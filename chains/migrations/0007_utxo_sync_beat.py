"""Schedule the BTC hot wallets' UTXO sync (chains.utxo_sync) every 60 s in django-celery-beat."""

from django.db import migrations

NAME = "Sync hot-wallet UTXOs"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={"task": "chains.utxo_sync", "interval": interval, "enabled": True, "expire_seconds": 55,
                  "description": "Records confirmed outputs paying the BTC hot wallets and notices outputs "
                                 "spent outside the console (signing syncs as well)."},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chains", "0006_hot_wallet_utxos"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
