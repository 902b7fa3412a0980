"""The Celery app: Redis broker, django-celery-beat schedules (editable in the admin).

Starting a worker or beat is a start path: with DEBUG off and a development secret, it refuses
in one ``Configuration error:`` line (``preflight.production_or_exit``). Importing the app (the
web process sends tasks through it) checks nothing.
"""

import os

from celery import Celery
from celery.signals import import_modules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")

app = Celery("withdrawals_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@import_modules.connect  # sent by the loader's init_worker: a worker or beat starting, before any work
def _refuse_a_development_secret_in_production(**kwargs) -> None:
    from withdrawals_site import preflight

    preflight.production_or_exit()
