"""Wrong OTP codes lock withdrawals: OTP_MAX_FAILURES in a row lock them for OTP_LOCK, the count
survives the refused request's rollback, and the lock holds even against the right code."""

from datetime import timedelta

import pyotp
import pytest
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from tests.withdrawals.conftest import fresh_otp
from tests.withdrawals.test_withdrawal_requests import snapshot
from withdrawals.models import TotpDevice
from withdrawals.services import otp as otp_service
from withdrawals.services.otp import totp_secret

WRONG = "000000"


def wrong_code(customer) -> str:
    """A 6-digit code that is none of the three the window accepts now."""
    totp = pyotp.TOTP(totp_secret(TotpDevice.objects.get(customer=customer)))
    valid = {totp.at(otp_service.otp_now() + k * totp.interval) for k in (-1, 0, 1)}
    return next(c for c in (WRONG, "111111", "222222", "333333") if c not in valid)


def device(customer) -> TotpDevice:
    return TotpDevice.objects.get(customer=customer)


@pytest.mark.django_db(transaction=True)
def test_five_wrong_codes_lock_withdrawals_and_the_count_survives_the_rollback(wallet, settings):
    assert settings.OTP_MAX_FAILURES == 5 and settings.OTP_LOCK == timedelta(minutes=30)
    before = snapshot(wallet.customer)
    for n in range(1, 5):
        response = wallet.request(key=f"w{n}", otp=wrong_code(wallet.customer), amount="0.1")
        assert response.status_code == 400 and response.json()["code"] == "invalid_otp"
        # Committed in its own transaction: the refused request rolled back, the count did not.
        assert device(wallet.customer).failed_attempts == n
        assert snapshot(wallet.customer) == before
    fifth = wallet.request(key="w5", otp=wrong_code(wallet.customer), amount="0.1")
    assert fifth.status_code == 423 and fifth.json()["code"] == "otp_locked"
    locked_until = device(wallet.customer).locked_until
    assert locked_until - timezone.now() > timedelta(minutes=29)
    assert locked_until.strftime("%Y-%m-%dT%H:%M:%SZ") in fifth.json()["detail"]

    # The right code is refused too while locked, and nothing changes.
    right = wallet.request(key="r1", amount="0.1")
    assert right.status_code == 423 and right.json()["code"] == "otp_locked"
    assert snapshot(wallet.customer) == before

    # The lock ends: the clock moved past it, the right code works again.
    TotpDevice.objects.filter(customer=wallet.customer).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert wallet.request(key="r2", amount="0.1").status_code == 201


@pytest.mark.django_db
def test_a_right_code_ends_the_run_of_wrong_ones(wallet):
    for n in range(4):
        wallet.request(key=f"w{n}", otp=wrong_code(wallet.customer), amount="0.1")
    assert device(wallet.customer).failed_attempts == 4
    assert wallet.request(key="ok", amount="0.1").status_code == 201
    assert device(wallet.customer).failed_attempts == 0
    assert wallet.request(key="w-again", otp=wrong_code(wallet.customer), amount="0.1").json()["code"] == "invalid_otp"


@pytest.mark.django_db
def test_the_limit_and_the_length_come_from_settings(wallet, settings):
    settings.OTP_MAX_FAILURES = 2
    settings.OTP_LOCK = timedelta(minutes=5)
    wallet.request(key="w1", otp=wrong_code(wallet.customer), amount="0.1")
    response = wallet.request(key="w2", otp=wrong_code(wallet.customer), amount="0.1")
    assert response.json()["code"] == "otp_locked"
    assert timedelta(minutes=4) < device(wallet.customer).locked_until - timezone.now() <= timedelta(minutes=5)


@pytest.mark.django_db
def test_confirm_is_refused_on_an_already_confirmed_device(wallet):
    before = device(wallet.customer).secret_encrypted
    response = wallet.client.post("/api/v1/otp/confirm/", {"code": fresh_otp(wallet.customer)}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert "already confirmed" in response.json()["detail"]
    assert device(wallet.customer).secret_encrypted == before


@pytest.mark.django_db
def test_confirm_is_throttled(wallet, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "otp_confirm", "3/min")
    for _ in range(3):
        assert wallet.client.post("/api/v1/otp/confirm/", {"code": WRONG}, format="json").status_code == 400
    response = wallet.client.post("/api/v1/otp/confirm/", {"code": WRONG}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert wallet.client.post("/api/v1/otp/enroll/", {"code": WRONG}, format="json").status_code == 429


@pytest.mark.django_db
def test_replacing_the_device_needs_the_current_code(wallet):
    before = device(wallet.customer)
    no_code = wallet.client.post("/api/v1/otp/enroll/", {}, format="json")
    assert no_code.status_code == 400 and (no_code.json()["code"], no_code.json()["field"]) == ("invalid_otp", "code")
    wrong = wallet.client.post("/api/v1/otp/enroll/", {"code": wrong_code(wallet.customer)}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_otp"
    after = device(wallet.customer)
    assert (after.secret_encrypted, after.pending_secret_encrypted) == (before.secret_encrypted, "")
    assert after.failed_attempts == 1  # a guess at the current code counts like one at a withdrawal


@pytest.mark.django_db
def test_a_replacement_waits_for_its_first_code_and_the_old_device_works_until_then(wallet):
    old_secret = totp_secret(device(wallet.customer))
    response = wallet.client.post("/api/v1/otp/enroll/", {"code": fresh_otp(wallet.customer)}, format="json")
    assert response.status_code == 201
    new_secret = response.json()["secret"]
    assert new_secret != old_secret and totp_secret(device(wallet.customer)) == old_secret
    assert wallet.request(key="old-still-works", amount="0.1").status_code == 201
    new_code = pyotp.TOTP(new_secret).now()
    assert wallet.client.post("/api/v1/otp/confirm/", {"code": new_code}, format="json").json() == {"confirmed": True}
    assert totp_secret(device(wallet.customer)) == new_secret and device(wallet.customer).pending_secret_encrypted == ""
