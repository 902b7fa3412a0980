"""Quotes and sells, fiat withdrawals, payment batches (pain.001) and bank statements (camt.053)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.fields import AmountField
from core.history import StatusChange
from core.transitions import Audited
from fiat.models.bank_accounts import FIAT_CURRENCIES


class Quote(models.Model):
    """A firm price for selling ``sell_amount`` of a crypto currency for fiat, until ``expires_at``."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="fiat_quotes")
    sell_currency = models.CharField(max_length=12)
    sell_amount = AmountField()
    fiat = models.CharField(max_length=3, choices=[(c, c) for c in FIAT_CURRENCIES])
    table_price = AmountField(help_text="The price table's price when quoted.")
    spread = AmountField(help_text="Fraction taken off the table price (0.01 = 1%).")
    price = AmountField(help_text="Firm price per unit in fiat (table price less the spread).")
    fiat_amount = AmountField(help_text="sell_amount × price, rounded down to the fiat's 2 decimals.")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(sell_amount__gt=0, price__gt=0, fiat_amount__gt=0),
                                              name="fiat_quote_positive")]

    def __str__(self) -> str:
        return f"Q{self.pk} {self.sell_amount.normalize():f} {self.sell_currency} @ {self.price} {self.fiat}"


class Sell(models.Model):
    """An executed quote: one ledger entry ``sell:<id>`` (the executed price kept for tax records)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="fiat_sells")
    quote = models.OneToOneField(Quote, on_delete=models.PROTECT, related_name="sell")
    currency = models.CharField(max_length=12)
    amount = AmountField()
    fiat = models.CharField(max_length=3)
    fiat_amount = AmountField()
    price = AmountField(help_text="Executed price per unit in fiat.")
    split = models.JSONField(default=list, help_text="Crypto taken per instrument, largest first.")
    entry_id = models.BigIntegerField(null=True, editable=False, help_text="The ledger entry sell:<id>.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"S{self.pk} {self.amount.normalize():f} {self.currency} → {self.fiat_amount} {self.fiat}"


class FiatIdempotencyRecord(models.Model):
    """The first answer to an App request with a given Idempotency-Key (per customer and scope)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=20)
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "scope", "key"], name="fiat_idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class ChargeOption(models.TextChoices):
    OUR = "OUR", "OUR: we pay all charges (pain.001 DEBT)"
    SHA = "SHA", "SHA: charges shared (pain.001 SHAR)"


CHARGE_BEARER = {ChargeOption.OUR: "DEBT", ChargeOption.SHA: "SHAR"}


class PaymentBatch(models.Model):
    """Approved fiat withdrawals of one currency exported as one pain.001.001.03 file, once."""

    currency = models.CharField(max_length=3)
    message_id = models.CharField(max_length=35, unique=True)
    xml = models.BinaryField(editable=False, help_text="The file as exported; a re-download serves these bytes.")
    sha256 = models.CharField(max_length=64)
    control_sum = AmountField()
    count = models.PositiveIntegerField()
    created_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "payment batches"
        permissions = [("export_paymentbatch", "Can export approved fiat withdrawals as a payment file")]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.count} × {self.currency})"


class FiatWithdrawal(Audited, FSMModelMixin, models.Model):
    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        APPROVED = "approved", "Approved"
        SENT = "sent", "Sent (in a payment file)"
        COMPLETED = "completed", "Completed"
        RETURNED = "returned", "Returned"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    S = Status
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="fiat_withdrawals")
    bank_account = models.ForeignKey("fiat.BankAccount", on_delete=models.PROTECT, related_name="withdrawals")
    currency = models.CharField(max_length=3)
    amount = AmountField(help_text="What the beneficiary is paid.")
    fee = AmountField(help_text="Our fee for the rail and charge option (fee revenue).")
    charge_option = models.CharField(max_length=3, choices=ChargeOption.choices, default=ChargeOption.SHA)
    split = models.JSONField(default=list, editable=False)
    status = FSMField(default=Status.PENDING_APPROVAL, choices=Status.choices, protected=True)
    end_to_end_id = models.CharField(max_length=35, unique=True, help_text="pain.001 EndToEndId; the statement's.")
    batch = models.ForeignKey(PaymentBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    bank_reference = models.CharField(max_length=100, blank=True, help_text="The bank's reference from the statement.")
    return_reason = models.CharField(max_length=8, blank=True, help_text="ISO return reason code, e.g. AC04.")
    return_charge = AmountField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True,
                                              help_text="Sent longer than FIAT_SENT_OVERDUE_BUSINESS_DAYS unmatched.")
    # Travel rule: originator and beneficiary as they were at the request.
    originator = models.JSONField(default=dict)
    beneficiary = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0, fee__gte=0), name="fiat_withdrawal_amounts")]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"FW{self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def charge_bearer(self) -> str:
        """pain.001 ChrgBr: OUR → DEBT, SHA → SHAR."""
        return CHARGE_BEARER[self.charge_option]

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return FiatWithdrawalStatusChange(withdrawal=self, from_status=from_state, to_status=to_state, actor=actor,
                                          reason=reason)

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=[S.PENDING_APPROVAL, S.APPROVED], target=S.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.CANCELLED)
    def cancel(self):
        pass

    @transition(field=status, source=S.APPROVED, target=S.SENT)
    def send(self):
        pass

    @transition(field=status, source=S.SENT, target=S.COMPLETED)
    def complete(self):
        pass

    @transition(field=status, source=S.SENT, target=S.RETURNED)
    def mark_returned(self):
        pass

    @transition(field=status, source=S.SENT, target=S.FAILED)
    def fail(self):
        pass

    del S


class FiatWithdrawalStatusChange(StatusChange):
    withdrawal = models.ForeignKey(FiatWithdrawal, on_delete=models.PROTECT, related_name="history")


class BankStatement(models.Model):
    """An imported statement of the client-money bank account (camt.053 or the bank's CSV)."""

    class Format(models.TextChoices):
        CAMT053 = "camt053", "ISO 20022 camt.053"
        CSV = "csv", "Bank CSV"

    statement_id = models.CharField(max_length=35, unique=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    currency = models.CharField(max_length=3)
    closing_balance = AmountField(null=True, blank=True)
    ledger_balance = AmountField(null=True, blank=True,
                                 help_text="The ledger's client-money bank balance after import.")
    reconciled = models.BooleanField(default=False, help_text="Closing balance equals the ledger's bank account.")
    imported_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("import_bankstatement", "Can import a bank statement and match its lines")]

    def __str__(self) -> str:
        return f"{self.statement_id} ({self.currency})"


class StatementLine(models.Model):
    class Outcome(models.TextChoices):
        COMPLETED = "completed", "Matched: completed"
        RETURNED = "returned", "Matched: returned"
        CHARGE = "charge", "Bank charge booked"
        UNMATCHED = "unmatched", "Unmatched (review)"

    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="lines")
    end_to_end_id = models.CharField(max_length=35, blank=True)
    amount = AmountField()
    credit = models.BooleanField(help_text="Credit to our account (a return, a funding); else a debit.")
    return_reason = models.CharField(max_length=8, blank=True)
    charge = AmountField(default=0)
    bank_reference = models.CharField(max_length=100, blank=True)
    info = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    withdrawal = models.ForeignKey(FiatWithdrawal, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{'Cr' if self.credit else 'Dr'} {self.amount} {self.end_to_end_id} ({self.outcome})"
