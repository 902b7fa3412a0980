"""The console's own records: the desk's alerts (withdrawals_site/desk)."""

from django.db import models
from django.db.models import Q


class DeskAlert(models.Model):
    """One alert while it lasts: opened (with its ``alert.opened`` event) the first time the
    beat scan sees its key, resolved (``alert.resolved``) the first scan it is gone. The partial
    unique constraint keeps two scans from opening the same alert twice."""

    key = models.CharField(max_length=200, help_text="Stable while the alert lasts, e.g. approval_sla:42.")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key"], condition=Q(resolved_at=None),
                                               name="one_open_desk_alert_per_key")]

    def __str__(self) -> str:
        return f"{self.title} ({'open' if self.resolved_at is None else 'resolved'})"
