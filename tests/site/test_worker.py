"""A real Celery worker (its own process, on Redis, on the test database) runs our tasks."""

import pytest
from django.conf import settings
from django.core.cache import cache

from withdrawals_site.tasks import heartbeat_key, ping

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_task_runs_through_the_real_worker(celery_worker_proc):
    assert ping.delay().get(timeout=30) == "pong"
    heartbeat = cache.get(heartbeat_key(celery_worker_proc.queue))
    # The worker used the test database, not the development one.
    assert heartbeat["database"] == settings.DATABASES["default"]["NAME"]


def test_this_session_has_a_queue_of_its_own(celery_worker_proc):
    assert settings.CELERY_TASK_DEFAULT_QUEUE == celery_worker_proc.queue
    assert celery_worker_proc.queue.startswith("test-")
    assert ping.apply_async().get(timeout=30) == "pong"


def test_a_killed_worker_can_be_restarted(celery_worker_proc):
    old_pid = celery_worker_proc.pid
    celery_worker_proc.kill()
    assert not celery_worker_proc.alive
    celery_worker_proc.restart()
    assert celery_worker_proc.alive and celery_worker_proc.pid != old_pid
    assert ping.delay().get(timeout=30) == "pong"
