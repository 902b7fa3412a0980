"""Withdrawal orders, their status history, their signed transactions and idempotency keys."""

from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from core.amounts import format_amount
from core.fields import AmountField
from core.history import StatusChange
from core.transitions import Audited


class WithdrawalOrder(Audited, ConcurrentTransitionMixin, models.Model):
    """A customer's request to send a coin to a verified address (SPEC.md, "Withdrawal order").

    ``status`` moves only through ``withdrawals.services`` (one service per move), which lock the
    row, call the transition declared here, write a WithdrawalStatusChange and start tasks on commit.
    """

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        APPROVED = "approved", "Approved"
        AWAITING_FEE = "awaiting_fee", "Awaiting main-account fee"
        BROADCASTING = "broadcasting", "Broadcasting"
        CONFIRMING = "confirming", "Confirming"
        COMPLETED = "completed", "Completed (credited)"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"
        REVIEW_REQUIRED = "review_required", "Review required (the chain has not decided)"

    event_name = "withdrawal"  # events: withdrawal.approved, withdrawal.completed, ...
    TERMINAL = (Status.COMPLETED, Status.REJECTED, Status.CANCELLED, Status.FAILED)
    # Orders whose hold still counts against the daily limit.
    COUNTS_TOWARDS_LIMIT = ~Q(status__in=[Status.REJECTED, Status.CANCELLED, Status.FAILED])

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="withdrawals")
    coin = models.ForeignKey("chains.Coin", on_delete=models.PROTECT, related_name="withdrawals")
    address = models.ForeignKey("withdrawals.CustomerAddress", on_delete=models.PROTECT, related_name="withdrawals")
    destination = models.CharField(max_length=128, help_text="The address as it was when requested.")
    amount = AmountField(help_text="Principal sent to the destination.")
    customer_fee = AmountField(help_text="Fee charged to the customer (coin currency).")
    network_fee_estimate = AmountField(help_text="Network fee estimated at request time (fee currency).")
    status = FSMField(default=Status.PENDING_APPROVAL, choices=Status.choices, protected=True, db_index=True)
    split = models.JSONField(default=list, help_text='Instruments held: [{"instrument", "amount"}] (amount + fee).')
    travel_rule = models.JSONField(null=True, blank=True,
                                   help_text="Originator and beneficiary (IVMS101 subset) when the amount requires it.")
    # Sending (see withdrawals.pipeline): the current signed transaction and what the chain says of it.
    fee_reserved = AmountField(default=0, help_text="Network fee reserved on the main account for this order.")
    fee_wanted = AmountField(default=0, help_text="The fee it last failed to reserve (awaiting fee): the fee-reserve "
                                                  "cover counts the order at this amount until it is reserved.")
    fee_paid = AmountField(null=True, blank=True, help_text="Network fee actually paid on chain.")
    tx_hash = models.CharField(max_length=100, blank=True, db_index=True)
    confirmations = models.PositiveIntegerField(default=0)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "coin", "created_at"]),
            # The admin list's order and keyset; completions of the last day (dashboard, volume).
            models.Index(fields=["created_at", "id"], name="withdrawal_created_id"),
            models.Index(fields=["completed_at"], name="withdrawal_completed_at",
                         condition=Q(completed_at__isnull=False)),
            # Prefix search (LIKE 'abc%') needs the pattern operator class under a non-C collation.
            models.Index(fields=["tx_hash"], name="withdrawal_tx_hash_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["destination"], name="withdrawal_destination_prefix",
                         opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            models.CheckConstraint(condition=Q(customer_fee__gte=0), name="withdrawal_fee_not_negative"),
        ]
        permissions = [
            ("resubmit_withdrawal", "Can resubmit a withdrawal awaiting fees"),
            ("reject_withdrawal", "Can reject an approved or awaiting-fee withdrawal before sending"),
            ("bump_fee", "Can bump the fee of a stuck withdrawal transaction"),
            ("resolve_withdrawal", "Can propose the resolution of a withdrawal in review"),
        ]

    def __str__(self) -> str:
        return f"W{self.pk} {format_amount(self.amount)} {self.coin.currency.code} on {self.coin.network.code}"

    @property
    def required_confirmations(self) -> int:
        return self.coin.confirmations

    def event_data(self) -> dict:
        """What a webhook receiver gets besides the move (no query: ids and own columns)."""
        return {"order_id": self.pk, "customer_id": self.customer_id, "coin_id": self.coin_id,
                "amount": str(self.amount), "tx_hash": self.tx_hash, "confirmations": self.confirmations}

    def transition_refusal(self, transition: str) -> str:
        return f"A {self.get_status_display().lower()} withdrawal cannot {transition.replace('_', ' ')}."

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return WithdrawalStatusChange(order=self, from_status=from_state, to_status=to_state, actor=actor,
                                      reason=reason)

    # --- the moves of SPEC.md; no side effects here, the services do the rest ---------------
    S = Status

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=[S.PENDING_APPROVAL, S.APPROVED, S.AWAITING_FEE], target=S.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.CANCELLED)
    def cancel(self):
        pass

    @transition(field=status, source=S.APPROVED, target=S.AWAITING_FEE)
    def wait_for_fee(self):
        pass

    @transition(field=status, source=S.AWAITING_FEE, target=S.APPROVED)
    def resubmit(self):
        pass

    @transition(field=status, source=[S.APPROVED, S.CONFIRMING], target=S.BROADCASTING)
    def start_broadcast(self):
        pass

    @transition(field=status, source=S.BROADCASTING, target=S.CONFIRMING)
    def accepted_by_node(self):
        pass

    @transition(field=status, source=[S.CONFIRMING, S.REVIEW_REQUIRED], target=S.COMPLETED)
    def complete(self):
        pass

    @transition(field=status, source=[S.BROADCASTING, S.CONFIRMING, S.REVIEW_REQUIRED], target=S.FAILED)
    def fail(self):
        pass

    @transition(field=status, source=[S.APPROVED, S.BROADCASTING, S.CONFIRMING], target=S.REVIEW_REQUIRED)
    def to_review(self):
        """A transaction may be out but the chain has not decided (or what is to be signed no
        longer matches what was approved): no automatic path releases the principal."""

    @transition(field=status, source=S.REVIEW_REQUIRED, target=S.CONFIRMING)
    def review_found(self):
        """One of the order's own transactions is in the mempool or a block again."""

    del S


class WithdrawalStatusChange(StatusChange):
    """Audit row for every move of an order (shown in the admin and the API)."""

    order = models.ForeignKey(WithdrawalOrder, on_delete=models.PROTECT, related_name="history")


class WithdrawalTransaction(Audited, FSMModelMixin, models.Model):
    """A signed transaction of an order, stored *before* it is sent.

    An order normally has one. A fee bump (same nonce, higher fee) or an expired TRON
    transaction adds another; whichever confirms settles the order, the others are replaced.
    ``state`` moves only through ``withdrawals.services.sending`` (core.transitions), each move
    with a WithdrawalTransactionStateChange.
    """

    state_field = "state"

    class State(models.TextChoices):
        SIGNED = "signed", "Signed, not yet accepted by a node"
        SENT = "sent", "Accepted by a node"
        CONFIRMED = "confirmed", "Confirmed (settled the order)"
        REPLACED = "replaced", "Replaced by another candidate"
        FAILED = "failed", "Failed"

    order = models.ForeignKey(WithdrawalOrder, on_delete=models.PROTECT, related_name="transactions")
    tx_hash = models.CharField(max_length=100, unique=True)
    raw = models.TextField(help_text="The signed transaction (public data, no key).")
    sender = models.CharField(max_length=128)
    nonce = models.BigIntegerField(null=True, blank=True)
    max_fee = AmountField(help_text="The most this transaction can spend on network fees.")
    fee_bump = models.PositiveSmallIntegerField(default=0)
    meta = models.JSONField(default=dict, blank=True)
    state = FSMField(max_length=12, choices=State.choices, default=State.SIGNED, protected=True)
    send_attempts = models.PositiveIntegerField(default=0)
    # Once either is set the transaction may be mined from some node's mempool: a refusal or a
    # disappearance no longer fails the order by itself (SPEC: "no automatic path releases the principal").
    ever_accepted = models.BooleanField(default=False, help_text="A node accepted it at least once.")
    broadcast_uncertain = models.BooleanField(
        default=False, help_text="A broadcast attempt ended without a clear answer (timeout, node error).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tx_hash"], name="withdrawal_tx_candidate_prefix",
                                opclasses=["varchar_pattern_ops"])]
        constraints = [
            # Only one candidate may ever settle an order.
            models.UniqueConstraint(fields=["order"], condition=Q(state="confirmed"),
                                    name="one_confirmed_tx_per_order"),
        ]

    def __str__(self) -> str:
        return self.tx_hash

    @property
    def may_be_out(self) -> bool:
        """Whether a node may hold (and some miner include) this transaction."""
        return self.ever_accepted or self.broadcast_uncertain

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return WithdrawalTransactionStateChange(transaction=self, from_status=from_state, to_status=to_state,
                                                actor=actor, reason=reason)

    # --- the moves; the services lock, call, save and audit (core.transitions) ----------------
    S = State

    @transition(field=state, source=S.SIGNED, target=S.SENT)
    def accept(self):
        """A node accepted it."""

    @transition(field=state, source=S.SENT, target=S.SIGNED)
    def unsend(self):
        """It left the chain and the mempool: to be sent again, the same bytes."""

    @transition(field=state, source=[S.SIGNED, S.SENT], target=S.CONFIRMED)
    def confirm(self):
        """Included at the coin's depth: it settled the order."""

    @transition(field=state, source=[S.SIGNED, S.SENT], target=S.REPLACED)
    def replace(self):
        """Another candidate of the order confirmed: this one never can."""

    @transition(field=state, source=[S.SIGNED, S.SENT], target=S.FAILED)
    def fail(self):
        """Refused for good, expired unsent, or its order failed."""

    del S


class WithdrawalTransactionStateChange(StatusChange):
    """Audit row for every move of a signed transaction."""

    transaction = models.ForeignKey(WithdrawalTransaction, on_delete=models.PROTECT, related_name="history")


class IdempotencyRecord(models.Model):
    """The first answer to an App request with a given Idempotency-Key, per customer."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    order = models.ForeignKey(WithdrawalOrder, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "key"], name="idempotency_key_unique_per_customer")]

    def __str__(self) -> str:
        return self.key
