"""TOTP security verification for withdrawal requests (RFC 6238 via pyotp).

Secrets are stored encrypted (Fernet); an accepted code's time step is remembered so the same
code cannot be used twice, even within its validity window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pyotp
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import transaction

from core.errors import DomainError
from withdrawals.models import TotpDevice

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


def totp_enroll(*, customer) -> tuple[TotpDevice, str, str]:
    """Start (or restart, while unconfirmed) enrolment. Returns the device, the secret and the
    otpauth:// URI for the authenticator app; the secret is shown this once."""
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(customer=customer).first()
        if device is not None and device.confirmed:
            raise DomainError("validation_error", "TOTP is already enrolled; ask support to reset it.", field="otp")
        secret = pyotp.random_base32()
        encrypted = _fernet().encrypt(secret.encode()).decode()
        if device is None:
            device = TotpDevice.objects.create(customer=customer, secret_encrypted=encrypted)
        else:
            device.secret_encrypted = encrypted
            device.last_used_step = 0
            device.save(update_fields=["secret_encrypted", "last_used_step"])
    uri = pyotp.TOTP(secret).provisioning_uri(name=customer.reference, issuer_name=TOTP_ISSUER)
    return device, secret, uri


def totp_confirm(*, customer, code: str) -> TotpDevice:
    """Finish enrolment with a first valid code."""
    with transaction.atomic():
        device = _locked_device(customer)
        _consume(device, code)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def totp_verify(*, customer, code: str) -> None:
    """Check and consume a code for a withdrawal; call inside the request's transaction so a
    refused request does not burn the code."""
    device = _locked_device(customer)
    if not device.confirmed:
        raise DomainError("invalid_otp", "TOTP is not enrolled: enrol at /api/v1/otp/enroll/ first.", field="otp")
    _consume(device, code)


def _locked_device(customer) -> TotpDevice:
    device = TotpDevice.objects.select_for_update().filter(customer=customer).first()
    if device is None:
        raise DomainError("invalid_otp", "TOTP is not enrolled: enrol at /api/v1/otp/enroll/ first.", field="otp")
    return device


def _consume(device: TotpDevice, code: str) -> None:
    if not isinstance(code, str) or not code.isdigit() or len(code) != 6:
        raise DomainError("invalid_otp", "The one-time code must be 6 digits.", field="otp")
    totp = pyotp.TOTP(totp_secret(device))
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if step > device.last_used_step and hmac.compare_digest(totp.at(step * totp.interval), code):
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return
    raise DomainError("invalid_otp", field="otp")
