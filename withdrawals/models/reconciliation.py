"""Hot-wallet reconciliation (docs/PIPELINE.md, "Reconciliation"): the opening balances staff
record, and the alerts raised when a wallet's chain balance leaves the range the console expects.

Both change only through ``withdrawals.services.reconciliation``: an opening becomes active when
its work order ``atm.va.hot_wallet_opening`` is approved; an alert is acknowledged when its work
order ``atm.va.reconciliation_ack`` is approved (two Treasury members).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.amounts import format_amount
from core.fields import AmountField
from core.history import StatusChange
from core.transitions import Audited


class HotWalletOpening(Audited, FSMModelMixin, models.Model):
    """What a hot wallet held of a currency at ``as_of``, as staff counted it on the chain.

    Reconciliation starts from the active opening of (network, address, currency) and adds the
    movements the console made since ``as_of``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded by a later opening"
        REJECTED = "rejected", "Rejected"

    network = models.ForeignKey("chains.Network", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128, help_text="The hot wallet's address on the network.")
    currency = models.ForeignKey("chains.Currency", on_delete=models.PROTECT, related_name="+")
    amount = AmountField(help_text="The chain balance at as_of, in whole units.")
    as_of = models.DateTimeField(help_text="When the balance was read; movements after it are added.")
    reason = models.TextField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = FSMField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True, protected=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="hot_wallet_opening_not_negative"),
            models.UniqueConstraint(fields=["network", "address", "currency"], condition=Q(status="active"),
                                    name="one_active_opening_per_wallet_currency"),
        ]

    def __str__(self) -> str:
        return (f"Opening {format_amount(self.amount)} {self.currency.code} on {self.network.code} "
                f"{self.address} as of {self.as_of:%Y-%m-%d %H:%M}")

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return HotWalletOpeningStatusChange(opening=self, from_status=from_state, to_status=to_state, actor=actor,
                                            reason=reason)

    @transition(field=status, source=Status.PENDING, target=Status.ACTIVE)
    def activate(self):
        pass

    @transition(field=status, source=Status.ACTIVE, target=Status.SUPERSEDED)
    def supersede(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self):
        pass


class HotWalletOpeningStatusChange(StatusChange):
    """Audit row for every move of an opening balance."""

    opening = models.ForeignKey(HotWalletOpening, on_delete=models.PROTECT, related_name="history")


class ReconciliationAlert(models.Model):
    """A hot wallet's chain balance outside [expected_low, expected_high] by more than the dust.

    While an alert is open (not acknowledged) sending on its network stays paused.
    """

    network = models.ForeignKey("chains.Network", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128)
    currency = models.ForeignKey("chains.Currency", on_delete=models.PROTECT, related_name="+")
    opening = models.ForeignKey(HotWalletOpening, on_delete=models.PROTECT, related_name="alerts")
    expected_low = AmountField(help_text="Expected if every transaction in flight landed.")
    expected_high = AmountField(help_text="Expected if none of them landed.")
    actual = AmountField(help_text="The chain balance read.")
    difference = AmountField(help_text="actual − the nearest end of the expected range (negative: missing).")
    dust = AmountField()
    reason = models.TextField()
    paused_sending = models.BooleanField(default=False, help_text="This alert paused sending on the network.")
    detected_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "address", "currency"], condition=Q(acknowledged_at=None),
                                    name="one_open_reconciliation_alert"),
        ]

    def __str__(self) -> str:
        return f"RA{self.pk} {self.network.code} {self.currency.code}: {format_amount(self.difference)}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
