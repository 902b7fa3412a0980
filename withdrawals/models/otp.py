"""TOTP enrolment for the App's security verification."""

from django.db import models


class TotpDevice(models.Model):
    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="totp")
    secret_encrypted = models.TextField(help_text="Fernet-encrypted base32 secret; never shown.")
    confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(default=0, help_text="TOTP time step of the last accepted code (no reuse).")
    created_at = models.DateTimeField(auto_now_add=True)
    # A replacement device waiting for its first code; the confirmed secret stays in use until then.
    pending_secret_encrypted = models.TextField(blank=True, default="",
                                                help_text="Fernet-encrypted secret of a replacement device.")
    # Wrong codes in a row; written in a transaction of its own, so a refused request keeps it.
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True,
                                        help_text="Too many wrong codes: withdrawals refused (otp_locked) until then.")

    def __str__(self) -> str:
        return f"TOTP of {self.customer_id}"
