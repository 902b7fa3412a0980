"""Webhook deliveries against a real HTTP receiver in a thread, one attempt at a time (the
worker's retries: test_webhooks_worker.py): signed JSON with the event id, a 500 retried on
the schedule, a log row per attempt, the retry window closing, redelivery."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from events.delivery import delivery_attempt, retry_delay
from events.models import Event, WebhookAttempt, WebhookDelivery
from events.services import event_record, events_dispatch, webhook_redeliver
from events.signing import signature_verify
from tests.events.conftest import SECRET, subscribe
from tests.fixtures.factories import AddressFactory, StaffFactory
from withdrawals.services.addresses import address_revoke

pytestmark = pytest.mark.django_db


def one_delivery(receiver, kind: str = "address.revoked") -> WebhookDelivery:
    subscribe(receiver.url)
    event = event_record(kind=kind, subject=AddressFactory(), payload={"n": 1})
    [delivery_id] = events_dispatch(event_ids=[event.pk])
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_the_receiver_gets_signed_json_with_the_event_id(local_receiver_settings, receiver):
    address = AddressFactory()
    staff = StaffFactory()
    subscribe(receiver.url, kinds=["address.*"])
    address_revoke(address=address, actor=staff, reason="Lost")
    [event] = Event.objects.all()  # its dispatch runs on commit, which this test never reaches: by hand
    [delivery_id] = events_dispatch(event_ids=[event.pk])
    assert delivery_attempt(delivery_id=delivery_id) == "delivered"
    [request] = receiver.requests()
    assert request.path == "/hooks/console" and request.headers["Content-Type"] == "application/json"
    signature_verify(secret=SECRET, header=request.headers["Webhook-Signature"], body=request.body)
    body = json.loads(request.body)
    assert request.headers["Webhook-Id"] == body["id"] == str(event.pk)
    assert body["kind"] == "address.revoked" and body["actor"] == staff.username
    assert body["subject"] == {"type": "withdrawals.customeraddress", "id": str(address.pk)}
    assert body["data"]["from"] == "verified" and body["data"]["reason"] == "Lost"
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_500_is_retried_and_every_attempt_is_logged(local_receiver_settings, receiver):
    receiver.answers = [500, 500]
    delivery = one_delivery(receiver)
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    codes = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "error"))
    assert codes == [(1, 500, "HTTP 500"), (2, 500, "HTTP 500"), (3, 200, "")]
    ids = {json.loads(r.body)["id"] for r in receiver.requests()}
    assert ids == {str(delivery.event_id)}, "every retry carries the same event id"


def test_the_retry_schedule_is_10_s_1_min_then_every_10_minutes(settings):
    settings.WEBHOOK_RETRY_DELAYS = [10.0, 60.0]
    settings.WEBHOOK_RETRY_EVERY = 600.0
    assert [retry_delay(n) for n in range(1, 6)] == [10.0, 60.0, 600.0, 600.0, 600.0]


def test_a_failed_attempt_waits_for_its_next_time(local_receiver_settings, receiver):
    local_receiver_settings.WEBHOOK_RETRY_DELAYS = [10.0]
    receiver.answers = [503]
    delivery = one_delivery(receiver)
    before = timezone.now()
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert before + timedelta(seconds=9) < delivery.next_attempt_at < timezone.now() + timedelta(seconds=11)
    assert delivery_attempt(delivery_id=delivery.pk) == "not_due"
    assert len(receiver.requests()) == 1


def test_after_a_day_of_failures_the_delivery_fails_and_staff_can_redeliver(local_receiver_settings, receiver):
    local_receiver_settings.WEBHOOK_RETRY_FOR = 24 * 3600
    receiver.answers = [500]
    delivery = one_delivery(receiver)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(window_started_at=timezone.now() - timedelta(days=1))
    assert delivery_attempt(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert delivery_attempt(delivery_id=delivery.pk) == "not_due"

    staff = StaffFactory()
    webhook_redeliver(delivery=delivery, actor=staff)
    assert delivery_attempt(delivery_id=delivery.pk) == "delivered"
    last = WebhookAttempt.objects.filter(delivery=delivery).latest("number")
    assert (last.status_code, last.requested_by) == (200, staff)


def test_a_receiver_that_is_not_listening_is_a_failed_attempt(local_receiver_settings):
    from tests.events.conftest import Receiver, free_port

    delivery = one_delivery(Receiver(port=free_port()))
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.last_status_code is None and "Connection" in delivery.last_error


def test_a_url_that_became_unsafe_is_refused_at_delivery(local_receiver_settings, receiver):
    delivery = one_delivery(receiver)
    local_receiver_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # e.g. the DNS name now points inside
    assert delivery_attempt(delivery_id=delivery.pk) == "retry"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Refused:") and receiver.requests() == []


def test_an_inactive_subscription_gets_nothing_new(local_receiver_settings, receiver):
    subscription = subscribe(receiver.url)
    subscription.active = False
    subscription.save()
    event = event_record(kind="address.revoked", payload={})
    assert events_dispatch(event_ids=[event.pk]) == []


def test_the_secret_is_stored_encrypted():
    from events.models import WebhookSubscription

    subscribe("https://93.184.215.14/hook")
    row = WebhookSubscription.objects.get()
    assert SECRET not in row.secret_encrypted
    from core.field_crypto import field_decrypt

    assert field_decrypt(row.secret_encrypted) == SECRET
