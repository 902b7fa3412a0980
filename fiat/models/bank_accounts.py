"""Customers' bank accounts: where a fiat withdrawal may go, once staff have checked it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.history import StatusChange
from core.transitions import Audited

FIAT_CURRENCIES = ("HKD", "USD")


class Rail(models.TextChoices):
    SWIFT = "SWIFT", "SWIFT wire (BIC, IBAN or account number)"
    FPS = "FPS", "Hong Kong FPS (FPS id, or bank code + account number)"
    CHATS = "CHATS", "Hong Kong CHATS (bank code + account number)"


# Which fiat currencies each rail carries (FPS: HKD only of ours; CHATS: HKD and USD).
RAIL_CURRENCIES: dict[str, tuple[str, ...]] = {
    Rail.SWIFT: ("HKD", "USD"),
    Rail.FPS: ("HKD",),
    Rail.CHATS: ("HKD", "USD"),
}


class NameMatch(models.TextChoices):
    EXACT = "exact", "Same as the KYC name"
    CLOSE = "close", "Close to the KYC name (checker: look)"


class BankAccount(Audited, FSMModelMixin, models.Model):
    class Status(models.TextChoices):
        PENDING_REVIEW = "pending_review", "Pending review"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        ARCHIVED = "archived", "Archived"

    LIVE_STATUSES = (Status.PENDING_REVIEW, Status.ACTIVE)

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="bank_accounts")
    holder_name = models.CharField(max_length=140, help_text="As the customer typed it (pain.001 Cdtr/Nm).")
    holder_name_normalized = models.CharField(max_length=200, editable=False,
                                              help_text="customers.names.name_normalize(holder_name).")
    name_match = models.CharField(max_length=8, choices=NameMatch.choices, editable=False,
                                  help_text="How the holder compares with the KYC legal name at registration.")
    currency = models.CharField(max_length=3, choices=[(c, c) for c in FIAT_CURRENCIES])
    rail = models.CharField(max_length=5, choices=Rail.choices)
    iban = models.CharField(max_length=34, blank=True, help_text="Compact upper-case IBAN (SWIFT only).")
    account_number = models.CharField(max_length=34, blank=True, help_text="Digits and letters only.")
    bank_code = models.CharField(max_length=3, blank=True, help_text="Hong Kong clearing code (3 digits), FPS/CHATS.")
    bic = models.CharField(max_length=11, blank=True, help_text="BIC (8 or 11), required on SWIFT.")
    fps_id = models.CharField(max_length=9, blank=True, help_text="FPS identifier (7 or 9 digits), FPS only.")
    bank_country = models.CharField(max_length=2, help_text="Country of the bank (from BIC / IBAN; HK for FPS/CHATS).")
    label = models.CharField(max_length=100, blank=True)
    status = FSMField(default=Status.PENDING_REVIEW, choices=Status.choices, protected=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    usable_from = models.DateTimeField(null=True, blank=True,
                                       help_text="End of the cool-down after verification; fiat withdrawals wait.")
    reason = models.TextField(blank=True, help_text="Why it was rejected or archived.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("review_bankaccount", "Can decide a bank-account review (on its work order)")]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(currency__in=FIAT_CURRENCIES), name="bank_account_currency_fiat"),
            models.CheckConstraint(condition=Q(rail__in=Rail.values), name="bank_account_rail_valid"),
            # Per-rail shape (the service checks the details; the database keeps the shape).
            models.CheckConstraint(
                condition=(Q(rail=Rail.SWIFT) & ~Q(bic="") & (~Q(iban="") | ~Q(account_number="")) & Q(fps_id=""))
                | (Q(rail=Rail.FPS, currency="HKD", iban="")
                   & (~Q(fps_id="") | (~Q(bank_code="") & ~Q(account_number=""))))
                | (Q(rail=Rail.CHATS, iban="", fps_id="") & ~Q(bank_code="") & ~Q(account_number="")),
                name="bank_account_rail_details"),
            models.UniqueConstraint(
                fields=["customer", "rail", "currency", "iban", "account_number", "bank_code", "fps_id"],
                condition=Q(status__in=["pending_review", "active"]), name="bank_account_unique_live"),
        ]

    def __str__(self) -> str:
        return f"{self.rail} {self.currency} {self.masked_number} ({self.holder_name})"

    @property
    def number(self) -> str:
        """The identifier the payment goes to: IBAN, account number or FPS id."""
        return self.iban or self.account_number or self.fps_id

    @property
    def masked_number(self) -> str:
        """The number with all but its last four characters hidden (the API never shows more)."""
        number = self.number
        if len(number) <= 4:
            return "•" * len(number)
        return "•" * (len(number) - 4) + number[-4:]

    @property
    def is_usable(self) -> bool:
        from django.utils import timezone

        return self.status == self.Status.ACTIVE and (self.usable_from is None or self.usable_from <= timezone.now())

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return BankAccountStatusChange(bank_account=self, from_status=from_state, to_status=to_state, actor=actor,
                                       reason=reason)

    @transition(field=status, source=Status.PENDING_REVIEW, target=Status.ACTIVE)
    def activate(self):
        pass

    @transition(field=status, source=Status.PENDING_REVIEW, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=[Status.PENDING_REVIEW, Status.ACTIVE], target=Status.ARCHIVED)
    def archive(self):
        pass


class BankAccountReviewItem(BankAccount):
    """The staff review queue (admin): the same rows, where they await review."""

    class Meta:
        proxy = True
        verbose_name = "bank account awaiting review"
        verbose_name_plural = "bank-account review queue"


class BankAccountStatusChange(StatusChange):
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="history")
