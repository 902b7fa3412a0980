"""TOTP security verification for withdrawal requests (RFC 6238 via pyotp).

Secrets are stored encrypted (Fernet); an accepted code's time step is remembered so the same
code cannot be used twice, even within its validity window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time

import pyotp
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.times import iso_utc
from withdrawals.models import TotpDevice

logger = logging.getLogger(__name__)

TOTP_ISSUER = "Withdrawals Console"
VALID_WINDOW = 1  # accept the previous and next 30 s step (clock drift)


def derived_key(secret_key: str) -> str:
    """The Fernet key derived from SECRET_KEY: what encrypts when FIELD_ENCRYPTION_KEY is unset."""
    return base64.urlsafe_b64encode(hashlib.sha256(("totp:" + secret_key).encode()).digest()).decode()


def _fernet() -> MultiFernet:
    """Encrypts with FIELD_ENCRYPTION_KEY (else the key derived from SECRET_KEY). Decrypts with
    that key, then the keys derived from SECRET_KEY and from each of SECRET_KEY_FALLBACKS: secrets
    written before FIELD_ENCRYPTION_KEY was set (or before SECRET_KEY was rotated) keep decrypting."""
    derived = [derived_key(key) for key in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", []))]
    keys = [key for key in (settings.FIELD_ENCRYPTION_KEY, *derived) if key]
    return MultiFernet([Fernet(key) for key in dict.fromkeys(keys)])


def totp_secret(device: TotpDevice) -> str:
    return _fernet().decrypt(device.secret_encrypted.encode()).decode()


from core.customer_otp import WrongOtp  # noqa: E402 - one class for every app that checks codes


def totp_enroll(*, customer, code: str | None = None) -> tuple[TotpDevice, str, str]:
    """Start (or restart, while unconfirmed) enrolment. Returns the device, the secret and the
    otpauth:// URI for the authenticator app; the secret is shown this once.

    With a confirmed device this is a replacement: it needs a current code of that device (a wrong
    one counts towards the OTP lock). The new secret waits in ``pending_secret_encrypted``; the
    current device keeps working until the new one is confirmed (which freezes payouts).
    """
    try:
        return _enroll(customer, code)
    except WrongOtp:
        # The wrong code of the current device counts, outside the rolled-back transaction.
        raise totp_failure_record(customer=customer) from None


def _enroll(customer, code: str | None) -> tuple[TotpDevice, str, str]:
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(customer=customer).first()
        secret = pyotp.random_base32()
        encrypted = _fernet().encrypt(secret.encode()).decode()
        if device is not None and device.confirmed:
            _check_not_locked(device)
            if not code:
                raise DomainError("invalid_otp", "Replacing the OTP device needs a current code of the "
                                                 "enrolled one.", field="code")
            _consume(device, code, field="code")
            device.pending_secret_encrypted = encrypted
            device.save(update_fields=["pending_secret_encrypted"])
        elif device is None:
            device = TotpDevice.objects.create(customer=customer, secret_encrypted=encrypted)
        else:
            device.secret_encrypted = encrypted
            device.last_used_step = 0
            device.save(update_fields=["secret_encrypted", "last_used_step"])
    uri = pyotp.TOTP(secret).provisioning_uri(name=customer.reference, issuer_name=TOTP_ISSUER)
    return device, secret, uri


def totp_confirm(*, customer, code: str) -> TotpDevice:
    """Finish enrolment with a first valid code of the new device. A confirmed device with no
    replacement waiting is refused; confirming a replacement swaps it in and freezes payouts."""
    from customers.services import customer_freeze_payouts

    with transaction.atomic():
        device = _locked_device(customer)
        if device.confirmed and not device.pending_secret_encrypted:
            raise DomainError("validation_error", "The OTP device is already confirmed; to replace it, enrol "
                                                  "again with a current code.", field="code")
        if device.confirmed:  # a replacement: check the code against the new secret, then swap
            replacement = TotpDevice(secret_encrypted=device.pending_secret_encrypted, last_used_step=0)
            _consume(replacement, code, field="code", save=False)
            device.secret_encrypted = device.pending_secret_encrypted
            device.pending_secret_encrypted = ""
            device.last_used_step = replacement.last_used_step
            device.save(update_fields=["secret_encrypted", "pending_secret_encrypted", "last_used_step"])
            customer_freeze_payouts(customer=customer, reason="OTP device replaced")
            return device
        _consume(device, code, field="code")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def totp_verify(*, customer, code: str) -> None:
    """Check and consume a code for a withdrawal; call inside the request's transaction so a
    refused request does not burn the code. A wrong code raises ``WrongOtp``: the caller records
    it with ``totp_failure_record`` after its transaction rolled back."""
    device = _locked_device(customer)
    if not device.confirmed:
        raise DomainError("invalid_otp", "TOTP is not enrolled: enrol at /api/v1/otp/enroll/ first.", field="otp")
    _check_not_locked(device)
    _consume(device, code)


def totp_failure_record(*, customer) -> DomainError:
    """Count a wrong code, in a transaction of its own (call it outside the refused request's
    transaction, which rolled back). The ``OTP_MAX_FAILURES``-th in a row locks withdrawals for
    ``OTP_LOCK``. Returns the error to answer: ``otp_locked`` once locked, else ``invalid_otp``."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(customer=customer).first()
        if device is None:
            return DomainError("invalid_otp", field="otp")
        now = timezone.now()
        if device.locked_until is not None and device.locked_until > now:
            return _locked_error(device)
        device.failed_attempts += 1
        fields = ["failed_attempts"]
        if device.failed_attempts >= settings.OTP_MAX_FAILURES:
            device.locked_until = now + settings.OTP_LOCK
            device.failed_attempts = 0
            fields.append("locked_until")
        device.save(update_fields=fields)
    if "locked_until" in fields:
        logger.warning("customer %s: OTP locked until %s after %s wrong codes", customer.pk,
                       device.locked_until.isoformat(), settings.OTP_MAX_FAILURES)
        return _locked_error(device)
    left = settings.OTP_MAX_FAILURES - device.failed_attempts
    return DomainError("invalid_otp", f"The one-time code is wrong, expired or already used; {left} more "
                                      "wrong code(s) lock withdrawals.", field="otp")


def _locked_error(device: TotpDevice) -> DomainError:
    return DomainError("otp_locked", f"Too many wrong one-time codes; withdrawals are locked until "
                                     f"{iso_utc(device.locked_until)}.", field="otp")


def _check_not_locked(device: TotpDevice) -> None:
    if device.locked_until is not None and device.locked_until > timezone.now():
        raise _locked_error(device)


def _locked_device(customer) -> TotpDevice:
    device = TotpDevice.objects.select_for_update().filter(customer=customer).first()
    if device is None:
        raise DomainError("invalid_otp", "TOTP is not enrolled: enrol at /api/v1/otp/enroll/ first.", field="otp")
    return device


def otp_now() -> float:
    """The clock one-time codes are checked against (the tests pin it, so a code computed in a
    test never ages past its step on a loaded machine)."""
    return time.time()


def _consume(device: TotpDevice, code: str, *, field: str = "otp", save: bool = True) -> None:
    if not isinstance(code, str) or not code.isdigit() or len(code) != 6:
        raise _wrong(device, "The one-time code must be 6 digits.", field)
    totp = pyotp.TOTP(totp_secret(device))
    now_step = int(otp_now()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if step > device.last_used_step and hmac.compare_digest(totp.at(step * totp.interval), code):
            device.last_used_step = step
            fields = ["last_used_step"]
            if device.failed_attempts:
                device.failed_attempts = 0  # a right code ends the run of wrong ones
                fields.append("failed_attempts")
            if save:
                device.save(update_fields=fields)
            return
    raise _wrong(device, None, field)


def _wrong(device: TotpDevice, detail: str | None, field: str) -> DomainError:
    """Wrong codes for a confirmed device count (``WrongOtp``); a new device's first code does not."""
    if device.confirmed:
        error = WrongOtp(detail)
        error.field = field
        return error
    return DomainError("invalid_otp", detail, field=field)
