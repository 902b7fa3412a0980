"""The staff second factor: enrol an authenticator, check codes, mark a session verified.

Codes are checked on the device row locked for update, so two requests never accept the same
code. A refused code raises ``DomainError("invalid_otp")`` without saying more.
"""

from __future__ import annotations

import logging
import time

import django_otp
import pyotp
from django.db import transaction
from django.utils import timezone
from django_otp import user_has_device

from core.errors import DomainError
from core.field_crypto import field_decrypt, field_encrypt
from core.second_factor import VERIFIED_AT_SESSION_KEY
from staff.models import StaffTotpDevice

TOTP_ISSUER = "Withdrawals Console (staff)"
logger = logging.getLogger(__name__)


def staff_totp_device_get(*, user) -> StaffTotpDevice | None:
    """The staff member's confirmed authenticator, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    return StaffTotpDevice.objects.filter(user=user, confirmed=True).first()


def staff_totp_enrol(*, user) -> tuple[StaffTotpDevice, str]:
    """Start enrolment (or continue it: the unconfirmed device keeps its secret). Returns the
    device and the otpauth:// URI the enrolment page draws as a QR code."""
    with transaction.atomic():
        if StaffTotpDevice.objects.filter(user=user, confirmed=True).exists():
            raise DomainError("validation_error", "An authenticator is already enrolled; an administrator resets it.")
        device = StaffTotpDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            device = StaffTotpDevice.objects.create(user=user, name="Authenticator app", confirmed=False,
                                                    secret_encrypted=field_encrypt(pyotp.random_base32()))
    uri = device.totp().provisioning_uri(name=user.get_username(), issuer_name=TOTP_ISSUER)
    return device, uri


def staff_totp_confirm(*, user, code: str) -> StaffTotpDevice:
    """Finish enrolment with a first good code from the authenticator."""
    with transaction.atomic():  # a refusal leaves the throttle counted: raise after the commit
        device = StaffTotpDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        ok = device is not None and device.verify_token(code)
        if ok:
            device.confirmed = True
            device.confirmed_at = timezone.now()
            device.save(update_fields=["confirmed", "confirmed_at"])
    if not ok:
        raise DomainError("invalid_otp", "The code is wrong or expired.", field="otp_token")
    logger.info("staff %s enrolled an authenticator (device %s)", user.get_username(), device.pk)
    return device


def staff_totp_verify(*, user, code: str) -> StaffTotpDevice:
    """Check and consume a code of the staff member's confirmed authenticator."""
    with transaction.atomic():  # a refusal leaves the throttle counted: raise after the commit
        device = StaffTotpDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        ok = device is not None and device.verify_token(code)
    if not ok:
        logger.warning("staff %s: second factor refused", user.get_username())
        raise DomainError("invalid_otp", "The code is wrong or expired.", field="otp_token")
    return device


def staff_has_second_factor(*, user) -> bool:
    """Any confirmed django-otp device: an authenticator app or a passkey."""
    return getattr(user, "is_authenticated", False) and user_has_device(user, confirmed=True)


def staff_passkeys(*, user):
    """The staff member's confirmed passkeys (django-otp-webauthn credentials)."""
    from django_otp_webauthn.utils import get_credential_model

    return get_credential_model().objects.filter(user=user, confirmed=True).order_by("pk")


def staff_passkey_exists(*, user) -> bool:
    return staff_passkeys(user=user).exists()


def staff_session_mark_verified(*, request, device) -> None:
    """The session passed the second factor now (a TOTP device or a passkey): django-otp's
    ``is_verified()`` and the time that ``core.second_factor`` reads for sensitive actions."""
    django_otp.login(request, device)
    staff_session_mark_fresh(request=request)


def staff_session_mark_fresh(*, request) -> None:
    request.session[VERIFIED_AT_SESSION_KEY] = time.time()


def staff_totp_secret(*, device: StaffTotpDevice) -> str:
    """The base32 secret, for the enrolment page and the demo's ``demo_otp`` only."""
    return field_decrypt(device.secret_encrypted)


def staff_superusers_demote(*, usernames: list[str] | None = None, reason: str = "") -> list[str]:
    """Take the superuser flag off the named active superusers (all of them when ``usernames`` is
    None). A tightening change, so it applies at once; recorded by the pghistory triggers of the
    user table (customers.TrackedUser) with the reason. Returns the usernames demoted; an unknown
    or non-superuser name is refused (``validation_error``) and nothing changes."""
    import pghistory
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    with transaction.atomic(), pghistory.context(reason=reason or "Superuser demoted (no superuser outside the demo)."):
        rows = user_model.objects.select_for_update().filter(is_superuser=True, is_active=True)
        if usernames is not None:
            rows = rows.filter(username__in=usernames)
        found = sorted(rows.values_list("username", flat=True))
        missing = sorted(set(usernames or ()) - set(found))
        if missing:
            raise DomainError("validation_error", f"Not an active superuser: {', '.join(missing)}.", field="usernames")
        for user in rows:
            user.is_superuser = False
            user.save(update_fields=["is_superuser"])
    logger.info("superusers demoted: %s", found)
    return found
