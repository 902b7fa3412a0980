"""One attempt of a webhook delivery, its retry schedule, and the sweep that loses nothing.

A delivery is claimed with a conditional UPDATE (pending, due, not claimed by a live attempt),
so two workers, a redelivered message or the sweep never send it twice at once; the claim
lapses after ``CLAIM_SECONDS`` if the worker dies mid-attempt, and the sweep queues it again.
That makes delivery *at least once*: receivers de-duplicate on ``Webhook-Id`` (the event id).

Retries (settings, environment): WEBHOOK_RETRY_DELAYS (default ``10,60`` seconds) after the first
failures, then every WEBHOOK_RETRY_EVERY seconds (600) until WEBHOOK_RETRY_FOR seconds (86400,
a day) after the first attempt; then the delivery is ``failed`` and waits for a redeliver.
Short waits are queued with a countdown; longer ones (beyond the broker's visibility timeout)
are picked up by the sweep when due.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events import outbound
from events.models import Event, WebhookAttempt, WebhookDelivery
from events.signals import webhook_attempted
from events.signing import ID_HEADER, SIGNATURE_HEADER, signature_header

logger = logging.getLogger("events.delivery")
Status = WebhookDelivery.Status
CLAIM_SECONDS = 60  # longer than connect + read timeouts
COUNTDOWN_MAX_SECONDS = 240  # below the broker's visibility timeout (300 s)
SWEEP_BATCH = 500
OUTBOX_GRACE_SECONDS = 5  # an event this fresh is being dispatched on commit


def event_envelope(event: Event) -> dict:
    """What a receiver gets (docs/WEBHOOKS.md)."""
    return {
        "id": str(event.id),
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "subject": {"type": event.subject_type, "id": event.subject_id} if event.subject_type else None,
        "actor": event.actor.get_username() if event.actor_id else None,
        "data": event.payload,
    }


def event_body(event: Event) -> bytes:
    return json.dumps(event_envelope(event), sort_keys=True, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    return delays[attempts - 1] if attempts <= len(delays) else settings.WEBHOOK_RETRY_EVERY


def _claim(delivery_id: int, now) -> bool:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return bool(WebhookDelivery.objects.filter(due, free, pk=delivery_id, status=Status.PENDING,
                                               subscription__active=True)
                .update(claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))


def _send(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """(status code, error, response excerpt) of one POST."""
    from core.field_crypto import field_decrypt

    body = event_body(delivery.event)
    secret = field_decrypt(delivery.subscription.secret_encrypted)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "withdrawals-console-webhooks/1",
        ID_HEADER: str(delivery.event_id),
        "Webhook-Kind": delivery.event.kind,
        SIGNATURE_HEADER: signature_header(secret=secret, body=body),
    }
    try:
        answer = outbound.post(delivery.subscription.url, body=body, headers=headers,
                               connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
                               read_timeout=settings.WEBHOOK_READ_TIMEOUT)
    except outbound.UnsafeURL as exc:
        return None, f"Refused: {exc}", ""
    except Exception as exc:  # noqa: BLE001 - any network failure is a failed attempt
        return None, f"{type(exc).__name__}: {str(exc)[:300]}", ""
    excerpt = answer.body[:500].decode("utf-8", errors="replace")
    if 200 <= answer.status < 300:
        return answer.status, "", excerpt
    return answer.status, f"HTTP {answer.status}", excerpt


def delivery_attempt(*, delivery_id: int) -> str:
    """Try one delivery if it is due: ``delivered``, ``retry``, ``failed`` or ``not_due``."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "not_due"
    delivery = WebhookDelivery.objects.select_related("event__actor", "subscription").get(pk=delivery_id)
    started = time.monotonic()
    status_code, error, excerpt = _send(delivery)
    duration = time.monotonic() - started
    finished = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.attempts += 1
        window_start = delivery.window_started_at or now
        WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=now,
                                      duration_ms=int(duration * 1000), status_code=status_code, error=error,
                                      response_excerpt=excerpt, requested_by=delivery.redeliver_requested_by)
        delivery.window_started_at = window_start
        delivery.last_status_code = status_code
        delivery.last_error = error
        delivery.claimed_until = None
        delivery.redeliver_requested_by = None
        if not error:
            outcome = "delivered"
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = Status.DELIVERED, finished, None
        else:
            delay = retry_delay(delivery.attempts)
            next_at = finished + timedelta(seconds=delay)
            if next_at > window_start + timedelta(seconds=settings.WEBHOOK_RETRY_FOR):
                outcome = "failed"
                delivery.status, delivery.next_attempt_at = Status.FAILED, None
            else:
                outcome = "retry"
                delivery.next_attempt_at = next_at
                if delay <= COUNTDOWN_MAX_SECONDS:
                    from events.tasks import deliver

                    transaction.on_commit(lambda: deliver.apply_async((delivery_id,), countdown=delay))
        delivery.save(update_fields=["attempts", "window_started_at", "last_status_code", "last_error",
                                     "claimed_until", "redeliver_requested_by", "status", "delivered_at",
                                     "next_attempt_at"])
    webhook_attempted.send(sender=WebhookDelivery, subscription=delivery.subscription.name, outcome=outcome,
                           status_code=status_code, duration=duration)
    log = logger.info if outcome == "delivered" else logger.warning
    log("webhook %s event %s to %s: %s (attempt %d, %s)", delivery.pk, delivery.event_id, delivery.subscription.name,
        outcome, delivery.attempts, status_code or error)
    return outcome


def outbox_sweep() -> dict:
    """Re-dispatch events still in the outbox and re-queue due deliveries (lost messages, dead
    workers, waits longer than a countdown). Safe to run any time: claims prevent doubles."""
    from events.services import events_dispatch
    from events.tasks import deliver

    now = timezone.now()
    stale = now - timedelta(seconds=OUTBOX_GRACE_SECONDS)
    event_ids = list(Event.objects.filter(dispatched_at__isnull=True, occurred_at__lt=stale)
                     .order_by("occurred_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    created = events_dispatch(event_ids=event_ids) if event_ids else []
    due = list(WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=stale,
                                              subscription__active=True)
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
               .exclude(pk__in=created).order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    for pk in due:
        deliver.delay(pk)
    return {"events_dispatched": len(event_ids), "deliveries_queued": len(due) + len(created)}
