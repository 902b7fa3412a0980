"""A password change, a replacement OTP device or a new address pause the customer's withdrawals
for PAYOUT_FREEZE (24 h): `payout_frozen` with the end in ISO 8601 UTC, nothing changed; shown
read-only in the admin; the first OTP enrolment and the demo's seeded addresses do not freeze."""

import re
from datetime import timedelta

import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.utils import timezone

from customers.models import Customer
from customers.services import customer_freeze_payouts
from tests.fixtures.staff import login_verified_staff
from tests.withdrawals.conftest import enrolled_customer, fresh_otp
from tests.withdrawals.test_withdrawal_requests import snapshot

pytestmark = pytest.mark.django_db
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class RetiredMD5Hasher(MD5PasswordHasher):
    """A hasher the settings list only to read old hashes: Django upgrades them at login."""

    algorithm = "retired_md5"


def frozen_until(customer):
    return Customer.objects.get(pk=customer.pk).payouts_frozen_until


def thaw(customer) -> None:
    """The clock moves past the freeze."""
    Customer.objects.filter(pk=customer.pk).update(payouts_frozen_until=timezone.now() - timedelta(seconds=1))


def assert_frozen(wallet, key: str, reason: str):
    before = snapshot(wallet.customer)
    response = wallet.request(key=key, amount="0.1")
    assert response.status_code == 423, response.content
    body = response.json()
    assert body["code"] == "payout_frozen"
    until = frozen_until(wallet.customer)
    assert timedelta(hours=23, minutes=59) < until - timezone.now() <= timedelta(hours=24)
    assert ISO_UTC.search(body["detail"]).group(0) == until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert snapshot(wallet.customer) == before, "a refused request changed something"
    assert Customer.objects.get(pk=wallet.customer.pk).payouts_frozen_reason == reason


def test_a_new_address_freezes_withdrawals_until_the_freeze_ends(wallet):
    response = wallet.client.post("/api/v1/addresses/", {"network": "ETH", "address": "0x" + "ab" * 20,
                                                         "label": "new"}, format="json")
    assert response.status_code == 201
    assert_frozen(wallet, "after-address", "New address on ETH")
    thaw(wallet.customer)
    assert wallet.request(key="after-thaw", amount="0.1").status_code == 201


def test_a_password_change_freezes_withdrawals(wallet):
    user = wallet.customer.user
    user.set_password("a-new-long-passphrase")
    user.save()
    assert_frozen(wallet, "after-password", "Password changed")


def test_a_password_change_in_the_admin_freezes_withdrawals(wallet, client):
    admin_user = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    login_verified_staff(client, admin_user)
    user = wallet.customer.user
    response = client.post(f"/admin/auth/user/{user.pk}/password/",
                           {"password1": "a-new-long-passphrase", "password2": "a-new-long-passphrase",
                            "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert frozen_until(wallet.customer) is not None


def test_logging_in_and_other_saves_do_not_freeze(wallet, api_client):
    assert api_client.post("/api/v1/auth/token/", {"username": wallet.customer.user.username,
                                                   "password": "pass-1234"}, format="json").status_code == 200
    user = wallet.customer.user
    user.email = "changed@example.test"
    user.save()
    assert frozen_until(wallet.customer) is None


def test_a_hash_upgrade_at_login_is_not_a_password_change(wallet, settings):
    """Django rewrites the hash of the same password when the hasher changes: no freeze."""
    user = wallet.customer.user
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 f"{__name__}.RetiredMD5Hasher"]
    get_user_model().objects.filter(pk=user.pk).update(
        password=make_password("pass-1234", hasher="retired_md5"))
    user.refresh_from_db()
    assert user.check_password("pass-1234")
    user.refresh_from_db()
    assert user.password.startswith("md5$")  # upgraded
    assert frozen_until(wallet.customer) is None


def test_the_first_otp_enrolment_does_not_freeze_a_replacement_does(wallet):
    assert frozen_until(enrolled_customer()) is None
    secret = wallet.client.post("/api/v1/otp/enroll/", {"code": fresh_otp(wallet.customer)},
                                format="json").json()["secret"]
    assert frozen_until(wallet.customer) is None  # not until the new device is confirmed
    assert wallet.client.post("/api/v1/otp/confirm/", {"code": pyotp.TOTP(secret).now()},
                              format="json").status_code == 200
    assert_frozen(wallet, "after-new-device", "OTP device replaced")


def test_a_freeze_is_never_shortened(customer):
    long_until = customer_freeze_payouts(customer=customer, reason="Password changed", hours=48)
    assert customer_freeze_payouts(customer=customer, reason="New address on ETH") == long_until
    customer.refresh_from_db()
    assert (customer.payouts_frozen_until, customer.payouts_frozen_reason) == (long_until, "New address on ETH")


def test_the_admin_shows_the_freeze_read_only(client, customer):
    until = customer_freeze_payouts(customer=customer, reason="New address on ETH")
    admin_user = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    login_verified_staff(client, admin_user)
    listing = client.get("/admin/customers/customer/").content.decode()
    assert "payouts frozen until" in listing.lower()
    assert until.strftime("%Y-%m-%dT%H:%M:%SZ") in listing and "New address on ETH" in listing
    change = client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert "New address on ETH" in change
    assert 'name="payouts_frozen_until"' not in change and 'name="payouts_frozen_reason"' not in change
