"""Celery beat's scheduler: django-celery-beat's database scheduler behind the start-path check.

Starting beat is a start path: with DEBUG off and a development secret it refuses in one
``Configuration error:`` line before the scheduler reads or writes the schedule tables.
"""

from django_celery_beat.schedulers import DatabaseScheduler


class Scheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        from withdrawals_site import preflight

        preflight.production_or_exit()
        super().__init__(*args, **kwargs)
