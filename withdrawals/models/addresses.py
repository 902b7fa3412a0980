"""The customers' address book: external addresses a withdrawal may go to once verified."""

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.fields import AmountField
from core.history import StatusChange
from core.transitions import Audited


class CustomerAddress(Audited, FSMModelMixin, models.Model):
    event_name = "address"  # events: address.verified, address.revoked, ...

    class Status(models.TextChoices):
        PENDING_VERIFICATION = "pending_verification", "Pending verification"
        PENDING_REVIEW = "pending_review", "Pending staff review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"

    class Method(models.TextChoices):
        SIGNATURE = "signature", "Signed message"
        MICROPAYMENT = "micropayment", "Micropayment from the address"
        EVIDENCE = "evidence", "Staff review of evidence"

    ACTIVE_STATUSES = (Status.PENDING_VERIFICATION, Status.PENDING_REVIEW, Status.VERIFIED)

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="addresses")
    network = models.ForeignKey("chains.Network", on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128, help_text="Normalized form (EIP-55 checksummed on EVM).")
    label = models.CharField(max_length=100, blank=True)
    memo = models.CharField(max_length=100, blank=True, help_text="Destination tag / memo, where the network has one.")
    status = FSMField(default=Status.PENDING_VERIFICATION, choices=Status.choices, protected=True)
    verification_method = models.CharField(max_length=16, choices=Method.choices, blank=True)
    evidence = models.FileField(upload_to="address_evidence/%Y/%m/", blank=True,
                                help_text="E.g. a screenshot of the customer's account at the receiving exchange.")
    verified_at = models.DateTimeField(null=True, blank=True)
    usable_from = models.DateTimeField(
        null=True, blank=True, help_text="End of the cool-down after verification; withdrawals wait until then.")
    reason = models.TextField(blank=True, help_text="Why it was rejected or revoked.")
    # Micropayment proof: the customer sends this amount of the network's native currency from
    # the address to the tenant's deposit address; staff or a task marks it seen.
    micropayment_amount = AmountField(null=True, blank=True, editable=False,
                                      help_text="Amount expected from the address (native currency).")
    micropayment_to = models.CharField(max_length=128, blank=True, editable=False,
                                       help_text="Tenant deposit address the micropayment goes to.")
    micropayment_tx_hash = models.CharField(max_length=100, blank=True, editable=False,
                                            help_text="Transaction that carried the micropayment, once seen.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "customer address"
        verbose_name_plural = "customer addresses"
        permissions = [
            ("review_address", "Can record an address review decision or a micropayment claim (on its work order)"),
            ("revoke_address", "Can revoke a customer address"),
        ]
        indexes = [models.Index(fields=["address"]), models.Index(fields=["status", "created_at"])]
        constraints = [
            # One live entry per customer, network and address; rejected/revoked rows stay as history.
            models.UniqueConstraint(
                fields=["customer", "network", "address"],
                condition=Q(status__in=["pending_verification", "pending_review", "verified"]),
                name="address_unique_live_per_customer_network",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.network_id and self.network.code}:{self.address}"

    PARTICIPLES = {"verify": "verified", "reject": "rejected", "revoke": "revoked",
                   "submit_for_review": "submitted for review"}

    def transition_refusal(self, transition: str) -> str:
        return (f"An address that is {self.status.replace('_', ' ')} cannot be "
                f"{self.PARTICIPLES.get(transition, transition)}.")

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return AddressStatusChange(address=self, from_status=from_state, to_status=to_state, actor=actor,
                                   reason=reason)

    # Moves (the services call these after locking the row; SPEC: addresses).
    @transition(field=status, source=Status.PENDING_VERIFICATION, target=Status.PENDING_REVIEW)
    def submit_for_review(self):
        pass

    @transition(field=status, source=[Status.PENDING_VERIFICATION, Status.PENDING_REVIEW], target=Status.VERIFIED)
    def verify(self):
        pass

    @transition(field=status, source=[Status.PENDING_VERIFICATION, Status.PENDING_REVIEW], target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=[Status.PENDING_VERIFICATION, Status.PENDING_REVIEW, Status.VERIFIED],
                target=Status.REVOKED)
    def revoke(self):
        pass


class AddressReviewItem(CustomerAddress):
    """The staff review queue (admin): the same rows, listed where they await review."""

    class Meta:
        proxy = True
        verbose_name = "address awaiting review"
        verbose_name_plural = "address review queue"


class AddressStatusChange(StatusChange):
    """Audit row for every move of an address."""

    address = models.ForeignKey(CustomerAddress, on_delete=models.PROTECT, related_name="history")


class AddressChallenge(models.Model):
    """A one-time message the customer signs with the address's key to prove ownership."""

    address = models.ForeignKey(CustomerAddress, on_delete=models.CASCADE, related_name="challenges")
    nonce = models.CharField(max_length=64, unique=True)
    message = models.TextField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.nonce
