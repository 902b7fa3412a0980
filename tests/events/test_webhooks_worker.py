"""Webhooks through the real Celery worker (its own process, on Redis and the test database)
to a real HTTP receiver in a thread, with the retry schedule shortened to tenths of a second:
a committed change is delivered signed, a 500 is retried, a rolled-back change delivers
nothing, and a receiver that is down across several retries gets every event once it is back."""

import json

import pytest
from django.db import transaction

from events.models import Event, WebhookDelivery
from events.signing import signature_verify
from tests.events.conftest import LOCAL_RECEIVER_ENV, SECRET, Receiver, free_port, subscribe
from tests.fixtures.factories import AddressFactory, StaffFactory
from withdrawals.services.addresses import address_revoke

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(celery_worker_proc, local_receiver_settings):
    with celery_worker_proc.environment(LOCAL_RECEIVER_ENV) as running:
        yield running


def event_ids(requests) -> list[str]:
    return [json.loads(r.body)["id"] for r in requests]


def wait_until(predicate, timeout: float = 30, what: str = "") -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"Not within {timeout}s: {what}")


def test_a_committed_change_is_delivered_signed_and_a_500_is_retried(worker, receiver):
    subscribe(receiver.url, kinds=["address.*"])
    receiver.answers = [500]
    address_revoke(address=AddressFactory(), actor=StaffFactory(), reason="Lost")
    got = receiver.wait_for(lambda requests: len(requests) >= 2)
    [event] = Event.objects.all()
    assert event_ids(got) == [str(event.pk)] * 2, "the retry carries the same event id"
    for request in got:
        signature_verify(secret=SECRET, header=request.headers["Webhook-Signature"], body=request.body)
    wait_until(lambda: WebhookDelivery.objects.filter(status="delivered").exists(), what="delivered")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (2, 200)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 200]


def test_a_rolled_back_change_delivers_nothing(worker, receiver):
    subscribe(receiver.url)
    first, second = AddressFactory(), AddressFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        address_revoke(address=first, actor=None, reason="rolled back")
        raise RuntimeError("the caller fails after the move")
    address_revoke(address=second, actor=None, reason="committed")
    got = receiver.wait_for(lambda requests: len(requests) >= 1)
    [event] = Event.objects.all()
    assert event.subject_id == str(second.pk)
    assert event_ids(got) == [str(event.pk)]
    first.refresh_from_db()
    assert first.status == "verified"


def test_a_receiver_down_across_retries_gets_every_event_once_back(worker):
    port = free_port()
    down = Receiver(port=port)  # nothing listens on the port yet: connection refused
    subscribe(down.url)
    addresses = [AddressFactory() for _ in range(3)]
    for address in addresses:
        address_revoke(address=address, actor=None, reason="while the receiver is down")
    wait_until(lambda: WebhookDelivery.objects.filter(attempts__gte=3).count() == 3, timeout=60,
               what="three failed attempts of each delivery")
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    assert all("Connection" in e for e in WebhookDelivery.objects.values_list("last_error", flat=True))

    back = down.start()
    try:
        got = back.wait_for(lambda requests: len(set(event_ids(requests))) == 3, timeout=60)
        wait_until(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 3, what="all delivered")
    finally:
        back.stop()
    assert set(event_ids(got)) == {str(pk) for pk in Event.objects.values_list("pk", flat=True)}
    for request in got:
        signature_verify(secret=SECRET, header=request.headers["Webhook-Signature"], body=request.body)
