"""Console-level Celery tasks."""

from __future__ import annotations

import socket

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

HEARTBEAT_KEY = "console:worker-heartbeat:{queue}"
HEARTBEAT_TTL_SECONDS = 3600


def heartbeat_key(queue: str | None = None) -> str:
    return HEARTBEAT_KEY.format(queue=queue or settings.CELERY_TASK_DEFAULT_QUEUE)


@shared_task(name="console.ping")
def ping() -> str:
    """Answer "pong" and record when (and where) a worker last ran a task.

    The heartbeat says which database the worker uses, so a test can prove that a real worker
    ran the task against the test database.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    cache.set(
        heartbeat_key(),
        {"at": timezone.now().isoformat(), "hostname": socket.gethostname(), "database": database},
        HEARTBEAT_TTL_SECONDS,
    )
    return "pong"


from withdrawals_site.desk.tasks import alerts_scan  # noqa: E402,F401 - the desk's beat task, registered here
