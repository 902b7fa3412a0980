"""The audit of staff capturing a withdrawal's travel-rule data."""

from django.conf import settings
from django.db import models


class TravelRuleRecord(models.Model):
    """Audit row for each change of a withdrawal's travel-rule data (old and new)."""

    order = models.ForeignKey("WithdrawalOrder", on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    previous = models.JSONField(null=True, blank=True)
    data = models.JSONField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "approvals_travelrulerecord"  # created by approvals; moved here with its service
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Travel rule of W{self.order_id} by {self.actor_id}"
