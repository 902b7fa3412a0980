"""The Celery app: Redis broker, django-celery-beat schedules (editable in the admin).

Starting a worker is a start path: with DEBUG off and a development secret, it refuses in one
``Configuration error:`` line (``preflight.production_or_exit``); beat does the same in its
scheduler (``withdrawals_site.beat``). Importing the app (the web process sends tasks through
it, the admin lists them) checks nothing.
"""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")

app = Celery("withdrawals_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect  # a worker starting, before it consumes anything
def _refuse_a_development_secret_in_production(**kwargs) -> None:
    from withdrawals_site import preflight

    preflight.production_or_exit()
