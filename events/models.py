"""The outbox (``Event``) and the webhooks that carry it out (subscriptions, deliveries, attempts).

An ``Event`` is written in the transaction of the change it tells (``events.services.event_record``),
so it exists exactly when the change committed. Fan-out creates one ``WebhookDelivery`` per
matching active subscription; each try of a delivery is a ``WebhookAttempt`` (the delivery log).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Event(models.Model):
    """One thing that happened, in the outbox. Its UUID is what receivers de-duplicate on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=100, db_index=True, help_text='e.g. "withdrawal.approved".')
    subject_type = models.CharField(max_length=100, blank=True,
                                    help_text='Model label, e.g. "withdrawals.withdrawalorder".')
    subject_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="Who made the change; empty for the system.")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True,
                                         help_text="When its deliveries were created (empty: still in the outbox).")

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "occurred_at"]),
            models.Index(fields=["occurred_at"], condition=Q(dispatched_at__isnull=True), name="event_undispatched"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}:{self.subject_id}"


class WebhookSubscription(models.Model):
    """A receiver: where to POST, which event kinds, the shared secret (encrypted, never shown)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="https:// URL of the receiver (checked against SSRF: "
                                                    "public addresses only, no credentials in the URL).")
    kinds = ArrayField(models.CharField(max_length=100), default=list,
                       help_text='Event kinds delivered: exact ("withdrawal.completed"), a prefix '
                                 '("withdrawal.*") or everything ("*").')
    secret_encrypted = models.TextField(editable=False, help_text="The signing secret, Fernet-encrypted.")
    active = models.BooleanField(default=True, help_text="Inactive: no new deliveries; pending ones wait.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        for pattern in self.kinds:
            if pattern == "*" or pattern == kind:
                return True
            if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
                return True
        return False


class WebhookDelivery(models.Model):
    """One event to one subscription, tried until the receiver answers 2xx or the retry window ends."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (retries exhausted)"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When it is due (pending only).")
    claimed_until = models.DateTimeField(null=True, blank=True,
                                         help_text="A worker is sending it until then (a crashed one's claim lapses).")
    window_started_at = models.DateTimeField(null=True, blank=True,
                                             help_text="First attempt of this round; retries stop a day later.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redeliver_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                               on_delete=models.PROTECT, related_name="+",
                                               help_text="Staff who asked for the next attempt (kept on it).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "subscription"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due")]
        permissions = [("redeliver_webhookdelivery", "Can redeliver a webhook delivery")]

    def __str__(self) -> str:
        return f"{self.event.kind} → {self.subscription}"


class WebhookAttempt(models.Model):
    """One HTTP try of a delivery: the delivery log (append-only)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why it failed when no 2xx came back (connection, refusal, status).")
    response_excerpt = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", help_text="Staff who asked for a redelivery; empty: automatic.")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error[:40]}"
