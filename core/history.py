"""The audit row every transition writes (core.transitions): who moved what, when, from, to, why."""

from django.conf import settings
from django.db import models


class StatusChange(models.Model):
    """An audit row: who moved something, when, from which status to which, and why."""

    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="Empty when the system moved it (worker, beat).")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"
