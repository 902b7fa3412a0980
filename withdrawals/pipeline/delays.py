"""How long the pipeline waits before it acts on an order again (settings, in seconds)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def rebroadcast_after() -> timedelta:
    """A broadcasting order untouched this long is re-sent by the sweep (its task died or gave up)."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_REBROADCAST_AFTER_SECONDS", 60)))


def stuck_after() -> timedelta:
    """A transaction not included this long after it was signed may get a fee bump from staff."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_STUCK_AFTER_SECONDS", 600)))


def requeue_after() -> timedelta:
    """An approved order untouched this long is sent to the send task again."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_REQUEUE_AFTER_SECONDS", 60)))
