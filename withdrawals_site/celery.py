"""The Celery app: Redis broker, django-celery-beat schedules (editable in the admin)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "withdrawals_site.settings")

app = Celery("withdrawals_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
