"""The webhook admin: a subscription's secret is written once and never shown back, an unsafe
URL is refused on the form, and the delivery log's redeliver action needs its permission."""

import pytest
from django.urls import reverse

from core.field_crypto import field_decrypt
from events.models import WebhookDelivery, WebhookSubscription
from events.services import event_record, events_dispatch
from tests.events.conftest import SECRET, subscribe
from tests.fixtures.factories import StaffFactory
from tests.fixtures.staff import age_second_factor, login_verified_staff
from withdrawals_site.roles import role_grant

pytestmark = pytest.mark.django_db
ADD = reverse("admin:events_webhooksubscription_add")


def staff(role: str):
    user = StaffFactory()
    role_grant(user=user, role=role)
    return user


def form(**overrides) -> dict:
    return {"name": "ledger-sync", "url": "https://93.184.215.14/hooks", "kinds": ["withdrawal.*"],
            "secret": SECRET, "active": "on", **overrides}


def test_a_configuration_admin_adds_a_subscription_whose_secret_is_never_shown(client):
    login_verified_staff(client, staff("config_admin"))
    response = client.post(ADD, form())
    assert response.status_code == 302, response.content[:2000]
    row = WebhookSubscription.objects.get()
    assert row.kinds == ["withdrawal.*"] and field_decrypt(row.secret_encrypted) == SECRET
    page = client.get(reverse("admin:events_webhooksubscription_change", args=[row.pk])).content.decode()
    assert SECRET not in page and row.secret_encrypted not in page and "set (encrypted)" in page
    # Saving again without a secret keeps the old one.
    assert client.post(reverse("admin:events_webhooksubscription_change", args=[row.pk]),
                       form(secret="", name="ledger-sync-2")).status_code == 302
    row.refresh_from_db()
    assert row.name == "ledger-sync-2" and field_decrypt(row.secret_encrypted) == SECRET


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/x", "https://127.0.0.1/hooks", "https://169.254.169.254/",
                                 "https://user:pw@93.184.215.14/"])
def test_an_unsafe_url_is_refused_on_the_form(client, url):
    login_verified_staff(client, staff("config_admin"))
    response = client.post(ADD, form(url=url))
    assert response.status_code == 200 and not WebhookSubscription.objects.exists()


def test_a_short_secret_is_refused(client):
    login_verified_staff(client, staff("config_admin"))
    assert client.post(ADD, form(secret="short")).status_code == 200
    assert not WebhookSubscription.objects.exists()


def test_redeliver_needs_its_permission(client, django_capture_on_commit_callbacks):
    subscribe("https://93.184.215.14/hooks")
    [delivery_id] = events_dispatch(event_ids=[event_record(kind="address.revoked", payload={}).pk])
    WebhookDelivery.objects.filter(pk=delivery_id).update(status="failed", next_attempt_at=None)
    changelist = reverse("admin:events_webhookdelivery_changelist")
    post = {"action": "redeliver", "index": "0", "_selected_action": [str(delivery_id)]}

    login_verified_staff(client, staff("compliance"))
    assert client.post(changelist, post).status_code == 403
    assert WebhookDelivery.objects.get(pk=delivery_id).status == "failed"

    login_verified_staff(client, staff("ops_maker"))
    with django_capture_on_commit_callbacks() as queued:
        assert client.post(changelist, post).status_code == 302
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == "pending" and delivery.next_attempt_at is not None and len(queued) == 1


def test_a_stale_second_factor_asks_for_a_code_without_keeping_the_secret_in_the_session(client, settings):
    login_verified_staff(client, staff("config_admin"))
    age_second_factor(client, settings.STAFF_OTP_FRESH_SECONDS + 60)
    response = client.post(ADD, form())
    assert response.status_code == 302 and reverse(settings.STAFF_OTP_VERIFY_URL_NAME) in response["Location"]
    assert SECRET not in repr(dict(client.session.items()))
    assert not WebhookSubscription.objects.exists()
