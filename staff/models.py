"""Staff second-factor devices: django-otp devices whose TOTP secret is encrypted at rest."""

from __future__ import annotations

import hmac
import time

import pyotp
from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin

from core.field_crypto import field_decrypt

VALID_WINDOW = 1  # the previous and next 30 s step are accepted (clock drift)


class StaffTotpDevice(ThrottlingMixin, Device):
    """A staff member's authenticator app. ``django_otp.plugins.otp_totp`` keeps the key in clear,
    so this device keeps only the Fernet token of the base32 secret, and remembers the last time
    step it accepted: a code works once, and an older one never again."""

    secret_encrypted = models.TextField(help_text="Fernet token of the base32 TOTP secret (never the secret).")
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "staff TOTP device"
        constraints = [
            # One confirmed authenticator per staff member; enrolment replaces an unconfirmed one.
            models.UniqueConstraint(fields=["user"], condition=models.Q(confirmed=True),
                                    name="staff_one_confirmed_totp_per_user"),
        ]

    def get_throttle_factor(self) -> int:
        return getattr(settings, "STAFF_OTP_THROTTLE_FACTOR", 1)

    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(field_decrypt(self.secret_encrypted))

    def verify_token(self, token) -> bool:
        """django-otp's contract: True and the step consumed for a good code; throttled after failures.
        Call on a row locked with select_for_update (``staff.services`` does)."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        token = str(token or "").strip()
        if len(token) == 6 and token.isdigit():
            totp = self.totp()
            now_step = int(time.time()) // totp.interval
            for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
                if step > self.last_used_step and hmac.compare_digest(totp.at(step * totp.interval), token):
                    self.last_used_step = step
                    self.throttle_reset(commit=False)
                    self.save(update_fields=["last_used_step", "throttling_failure_timestamp",
                                             "throttling_failure_count"])
                    return True
        self.throttle_increment(commit=False)
        self.save(update_fields=["throttling_failure_timestamp", "throttling_failure_count"])
        return False
