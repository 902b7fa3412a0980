"""TOTP enrolment for the App's security verification."""

from django.db import models


class TotpDevice(models.Model):
    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="totp")
    secret_encrypted = models.TextField(help_text="Fernet-encrypted base32 secret; never shown.")
    confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(default=0, help_text="TOTP time step of the last accepted code (no reuse).")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TOTP of {self.customer_id}"
