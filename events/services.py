"""The outbox: record events in the caller's transaction, fan them out to the webhooks after it.

    with transaction.atomic():
        ...the change...
        event_record(kind="withdrawal.approved", subject=order, payload={...}, actor=actor)

The row is written in the caller's transaction: a change that rolls back leaves no event, one
that commits always has its event (transactional outbox). Delivery starts on commit
(``events.dispatch``); the beat sweep (``events.sweep_outbox``) picks up whatever a lost message
or a crashed worker left pending, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from events.kinds import KIND_PATTERN
from events.models import Event, WebhookDelivery, WebhookSubscription

Status = WebhookDelivery.Status


def _actor(actor):
    return actor if getattr(actor, "pk", None) is not None else None


def _subject(subject) -> tuple[str, str]:
    if subject is None:
        return "", ""
    return subject._meta.label_lower, str(subject.pk)


def _dispatch_on_commit(event_ids: list) -> None:
    """One ``events.dispatch`` task for all the events of a transaction (an App withdrawal request
    records two: one message to Redis instead of two).

    The ids wait in a list on the connection; every call still registers its own on-commit hook
    (so a hook dropped with a rolled-back savepoint never strands the others' ids), and the first
    hook that runs sends everything waiting, the rest find nothing. Ids of rolled-back events
    may ride along: ``events_dispatch`` skips ids that are not (or no longer) pending."""
    connection = transaction.get_connection()
    waiting = connection.__dict__.setdefault("events_waiting_dispatch", [])
    waiting.extend(str(pk) for pk in event_ids)
    transaction.on_commit(lambda: _dispatch_waiting(waiting))


def _dispatch_waiting(waiting: list) -> None:
    from events.tasks import dispatch

    ids = list(dict.fromkeys(waiting))
    waiting.clear()
    if ids:
        dispatch.delay(ids)


def event_record(*, kind: str, subject=None, payload: dict, actor=None) -> Event:
    """Write one outbox row in the caller's transaction; its delivery is scheduled on commit.

    ``subject`` is a saved model instance (stored as its label and pk), ``payload`` a
    JSON-serialisable dict (Decimals and datetimes become strings), ``actor`` a user or None.
    """
    if not KIND_PATTERN.match(kind or ""):
        raise DomainError("validation_error", "An event kind is a dotted lower-case name.", field="kind")
    subject_type, subject_id = _subject(subject)
    event = Event.objects.create(kind=kind, subject_type=subject_type, subject_id=subject_id,
                                 payload=payload, actor=_actor(actor))
    _dispatch_on_commit([event.pk])
    return event


def events_record(*, events: Sequence[tuple[str, object, dict]], actor=None) -> list[Event]:
    """``event_record`` for many (kind, subject, payload) at once: one INSERT, one task."""
    rows = []
    now = timezone.now()
    for kind, subject, payload in events:
        if not KIND_PATTERN.match(kind or ""):
            raise DomainError("validation_error", "An event kind is a dotted lower-case name.", field="kind")
        subject_type, subject_id = _subject(subject)
        rows.append(Event(kind=kind, subject_type=subject_type, subject_id=subject_id, payload=payload,
                          actor=_actor(actor), occurred_at=now))
    if not rows:
        return []
    created = Event.objects.bulk_create(rows)
    _dispatch_on_commit([e.pk for e in created])
    return created


def events_dispatch(*, event_ids: Sequence) -> list[int]:
    """Fan events out: one delivery per active subscription that wants the kind, then mark them
    dispatched. Events another worker holds are skipped (it dispatches them). Returns the new
    delivery ids; their first attempt is queued on commit."""
    now = timezone.now()
    with transaction.atomic():
        events = list(Event.objects.select_for_update(skip_locked=True)
                      .filter(pk__in=list(event_ids), dispatched_at__isnull=True))
        if not events:
            return []
        subscriptions = list(WebhookSubscription.objects.filter(active=True))
        deliveries = [WebhookDelivery(event=event, subscription=subscription, next_attempt_at=now)
                      for event in events for subscription in subscriptions if subscription.wants(event.kind)]
        created = WebhookDelivery.objects.bulk_create(deliveries)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
        delivery_ids = [d.pk for d in created]
        if delivery_ids:
            from events.tasks import deliver

            transaction.on_commit(lambda: [deliver.delay(pk) for pk in delivery_ids])
    return delivery_ids


def webhook_redeliver(*, delivery: WebhookDelivery | int, actor) -> WebhookDelivery:
    """Staff ask for one more attempt now (a failed delivery gets a fresh retry window)."""
    pk = delivery.pk if isinstance(delivery, WebhookDelivery) else delivery
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=pk)
        delivery.status = Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.claimed_until = None
        delivery.window_started_at = None
        delivery.redeliver_requested_by = _actor(actor)
        delivery.save(update_fields=["status", "next_attempt_at", "claimed_until", "window_started_at",
                                     "redeliver_requested_by"])
        from events.tasks import deliver

        transaction.on_commit(lambda: deliver.delay(pk))
    return delivery


SECRET_MIN_LENGTH = 32


def webhook_subscription_check(*, subscription: WebhookSubscription, secret: str = "") -> None:
    """Refuse a subscription the worker must not call or cannot sign for (DomainError by field):
    the URL fails the SSRF check (resolved now, and again at every attempt), a kind is unknown,
    or the secret is missing or short."""
    from events import outbound
    from events.kinds import event_kinds

    try:
        _, host, port = outbound.url_check(subscription.url or "")
        outbound.resolve_checked(host, port)
    except outbound.UnsafeURL as exc:
        raise DomainError("validation_error", str(exc), field="url")
    known = event_kinds()
    unknown = [k for k in subscription.kinds
               if k != "*" and k not in known and not (k.endswith(".*") and any(n.startswith(k[:-1]) for n in known))]
    if not subscription.kinds or unknown:
        raise DomainError("validation_error", f"Unknown event kinds: {', '.join(unknown) or '(none selected)'}.",
                          field="kinds")
    if secret and len(secret) < SECRET_MIN_LENGTH:
        raise DomainError("validation_error", f"The secret needs at least {SECRET_MIN_LENGTH} characters.",
                          field="secret")
    if not secret and not subscription.secret_encrypted:
        raise DomainError("validation_error", "A new subscription needs a signing secret.", field="secret")


def webhook_subscription_save(*, subscription: WebhookSubscription, secret: str = "",
                              actor=None) -> WebhookSubscription:
    """Create or update a subscription after ``webhook_subscription_check``; a new secret is
    stored encrypted (core.field_crypto); an empty ``secret`` on an update keeps the old one."""
    from core.field_crypto import field_encrypt

    webhook_subscription_check(subscription=subscription, secret=secret)
    if secret:
        subscription.secret_encrypted = field_encrypt(secret)
        subscription.secret_changed_at = timezone.now()
    if subscription.pk is None and _actor(actor) is not None:
        subscription.created_by = actor
    subscription.save()
    return subscription
