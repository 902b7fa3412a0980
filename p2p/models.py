"""P2P cash-out with escrow (SPEC.md, "P2P cash-out with escrow"; docs/P2P.md).

A seller offers an amount of a currency for a fiat at a price; a buyer takes part of it, and the
seller's coins move to escrow (their held balance under ``p2p:trade:<id>:escrow``) in the same
transaction. The buyer pays off-platform, the seller checks their own bank and releases with a
one-time code; staff decide appeals through ``atm.p2p.appeal``. Every move goes through
``p2p.services`` (core.transitions) with the trade version the client saw.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.amounts import format_amount
from core.fields import AmountField
from core.history import StatusChange
from core.transitions import Audited


class FeePayer(models.TextChoices):
    SELLER = "seller", "Seller (escrow = amount + fee; the buyer receives the amount)"
    BUYER = "buyer", "Buyer (escrow = amount; the buyer receives the amount less the fee)"


class Side(models.TextChoices):
    SELLER = "seller", "Seller"
    BUYER = "buyer", "Buyer"


class P2POffer(Audited, FSMModelMixin, models.Model):
    """A seller's standing offer. ``remaining`` goes down when a buyer takes part of it and back
    up when that trade is cancelled, expires or is refunded; the database refuses overselling."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    seller = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="p2p_offers")
    currency = models.ForeignKey("chains.Currency", to_field="code", db_column="currency", on_delete=models.PROTECT,
                                 related_name="+", help_text="The crypto sold, e.g. USDT.")
    fiat = models.CharField(max_length=3, help_text="The fiat paid off-platform (one of the tenant's quote "
                                                    "currencies, e.g. HKD); the buyer's instrument is "
                                                    "VA/<venue>/<currency><fiat>.")
    price = AmountField(help_text="Fiat per unit of the currency.")
    total_amount = AmountField(help_text="What the seller offered in all.")
    remaining = AmountField(help_text="What buyers may still take (trades in progress or done are deducted).")
    min_trade = AmountField(help_text="Smallest trade (currency units); the last remainder may be smaller.")
    max_trade = AmountField(help_text="Largest trade (currency units).")
    payment_window_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="How long a buyer has to pay and mark the trade paid before it expires.")
    fee_payer = models.CharField(max_length=6, choices=FeePayer.choices, default=FeePayer.SELLER,
                                 help_text="Who pays the trade fee (P2P_FEE_RATE of the amount).")
    # A string reference: the fiat app is on this floor too, so no import (docs/DECISIONS.md).
    payment_methods = models.ManyToManyField(
        "fiat.BankAccount", related_name="+",
        help_text="The seller's own active bank accounts buyers may pay to (re-checked when a trade opens).")
    terms = models.CharField(max_length=500, blank=True, help_text="The seller's note to buyers.")
    status = FSMField(default=Status.ACTIVE, choices=Status.choices, protected=True, max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "P2P offer"
        constraints = [
            models.CheckConstraint(condition=Q(remaining__gte=0) & Q(remaining__lte=F("total_amount")),
                                   name="p2p_offer_not_oversold"),
            models.CheckConstraint(condition=Q(price__gt=0) & Q(min_trade__gt=0) & Q(max_trade__gte=F("min_trade")),
                                   name="p2p_offer_terms_valid"),
            models.CheckConstraint(condition=Q(payment_window_minutes__gte=1), name="p2p_offer_window_positive"),
        ]
        indexes = [models.Index(fields=["status", "currency", "fiat"], name="p2p_offer_market")]

    def __str__(self) -> str:
        return f"O{self.pk} {format_amount(self.remaining)}/{format_amount(self.total_amount)} " \
               f"{self.currency_id} @ {format_amount(self.price)} {self.fiat}"

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return P2POfferStatusChange(offer=self, from_status=from_state, to_status=to_state, actor=actor,
                                    reason=reason)

    S = Status

    @transition(field=status, source=S.ACTIVE, target=S.PAUSED)
    def pause(self):
        pass

    @transition(field=status, source=S.PAUSED, target=S.ACTIVE)
    def resume(self):
        pass

    @transition(field=status, source=[S.ACTIVE, S.PAUSED], target=S.WITHDRAWN)
    def withdraw(self):
        pass

    del S


class P2POfferStatusChange(StatusChange):
    offer = models.ForeignKey(P2POffer, on_delete=models.PROTECT, related_name="history")


class P2PTrade(Audited, FSMModelMixin, models.Model):
    """One buyer's trade against an offer, with the seller's coins in escrow from the start.

    ``version`` goes up with every move; each request names the version it saw, and a mismatch is
    refused (``trade_state_changed``), so two people acting on the same screen never both win.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open (escrowed, waiting for the buyer's payment)"
        BUYER_PAID = "buyer_paid", "Buyer paid (waiting for the seller's confirmation)"
        RELEASED = "released", "Released by the seller"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired (not paid in time)"
        IN_APPEAL = "in_appeal", "In appeal (staff decide)"
        RESOLVED_RELEASE = "resolved_release", "Resolved by staff: released to the buyer"
        RESOLVED_REFUND = "resolved_refund", "Resolved by staff: refunded to the seller"

    TERMINAL = (Status.RELEASED, Status.CANCELLED, Status.EXPIRED, Status.RESOLVED_RELEASE, Status.RESOLVED_REFUND)
    WAITING_ON_HUMAN = (Status.BUYER_PAID, Status.IN_APPEAL)

    offer = models.ForeignKey(P2POffer, on_delete=models.PROTECT, related_name="trades")
    seller = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="p2p_sales")
    buyer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="p2p_purchases")
    currency = models.ForeignKey("chains.Currency", to_field="code", db_column="currency", on_delete=models.PROTECT,
                                 related_name="+")
    fiat = models.CharField(max_length=3)
    amount = AmountField(help_text="What the buyer took from the offer (currency units).")
    price = AmountField(help_text="Fiat per unit, the offer's price when taken.")
    fiat_amount = AmountField(help_text="What the buyer pays off-platform: amount × price, to the cent (half up).")
    fee = AmountField(help_text="The trade fee (currency units) to fee revenue.")
    fee_payer = models.CharField(max_length=6, choices=FeePayer.choices)
    escrow_amount = AmountField(help_text="Held from the seller: amount + fee when the seller pays it, else amount.")
    buyer_receives = AmountField(help_text="Credited to the buyer on release: amount, less the fee when the "
                                           "buyer pays it.")
    escrow_split = models.JSONField(default=list, help_text='Seller instruments escrowed: [{"instrument", "amount"}].')
    status = FSMField(default=Status.OPEN, choices=Status.choices, protected=True, max_length=20, db_index=True)
    version = models.PositiveIntegerField(default=1, help_text="Goes up with every move.")
    payment_method = models.ForeignKey("fiat.BankAccount", on_delete=models.PROTECT, related_name="+",
                                       help_text="The seller's account the buyer pays to.")
    payment_method_label = models.CharField(max_length=200, blank=True,
                                            help_text="The seller's account as shown to the buyer (masked).")
    payer_name = models.CharField(max_length=200, blank=True, help_text="The name on the account the buyer paid from.")
    payer_account = models.CharField(max_length=100, blank=True, help_text="The account the buyer paid from.")
    paid_undone = models.BooleanField(default=False, help_text="The buyer took back a paid mark (allowed once).")
    seller_cancel_requested = models.BooleanField(
        default=False, help_text="The seller asked to cancel; the buyer's cancel then does not count to their limit.")
    cancelled_by = models.CharField(max_length=6, blank=True, help_text="buyer, or both (the seller asked first).")
    appealed_by = models.CharField(max_length=6, blank=True, help_text="seller, buyer, or system (release window).")
    appeal_reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(help_text="The payment window closes: the sweep expires an unpaid trade.")
    paid_at = models.DateTimeField(null=True, blank=True)
    release_deadline = models.DateTimeField(
        null=True, blank=True, help_text="Not released by then: the sweep opens an appeal (never a release).")
    appealed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "P2P trade"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(fee__gte=0) & Q(buyer_receives__gt=0),
                                   name="p2p_trade_amounts_positive"),
            models.CheckConstraint(condition=Q(escrow_amount=F("buyer_receives") + F("fee")),
                                   name="p2p_trade_escrow_is_receipt_plus_fee"),
            models.CheckConstraint(condition=~Q(seller=F("buyer")), name="p2p_trade_two_parties"),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="p2p_trade_sweep"),
            models.Index(fields=["buyer", "created_at"], name="p2p_trade_buyer_day"),
            models.Index(fields=["seller", "created_at"], name="p2p_trade_seller_day"),
        ]
        permissions = [
            ("propose_p2p_resolution", "Can propose the resolution of a P2P trade in appeal"),
        ]

    def __str__(self) -> str:
        return (f"T{self.pk} {format_amount(self.amount)} {self.currency_id} for "
                f"{format_amount(self.fiat_amount)} {self.fiat}")

    @property
    def escrow_reference(self) -> str:
        return f"p2p:trade:{self.pk}:escrow"

    @property
    def release_reference(self) -> str:
        return f"p2p:trade:{self.pk}:release"

    @property
    def refund_reference(self) -> str:
        return f"p2p:trade:{self.pk}:refund"

    def side_of(self, customer) -> str | None:
        if customer is None:
            return None
        if customer.pk == self.buyer_id:
            return Side.BUYER
        if customer.pk == self.seller_id:
            return Side.SELLER
        return None

    def transition_refusal(self, transition: str) -> str:
        return f"A trade that is {self.status} cannot {transition.replace('_', ' ')}."

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return P2PTradeStatusChange(trade=self, from_status=from_state, to_status=to_state, actor=actor,
                                    reason=reason, version=self.version)

    S = Status

    @transition(field=status, source=S.OPEN, target=S.BUYER_PAID)
    def mark_paid(self):
        pass

    @transition(field=status, source=S.BUYER_PAID, target=S.OPEN)
    def unmark_paid(self):
        pass

    @transition(field=status, source=[S.BUYER_PAID, S.IN_APPEAL], target=S.RELEASED)
    def release(self):
        """The seller confirms receipt; also while in appeal (the seller concedes)."""

    @transition(field=status, source=S.OPEN, target=S.CANCELLED)
    def cancel(self):
        pass

    @transition(field=status, source=S.OPEN, target=S.EXPIRED)
    def expire(self):
        pass

    @transition(field=status, source=S.BUYER_PAID, target=S.IN_APPEAL)
    def appeal(self):
        pass

    @transition(field=status, source=S.IN_APPEAL, target=S.RESOLVED_RELEASE)
    def resolve_release(self):
        pass

    @transition(field=status, source=S.IN_APPEAL, target=S.RESOLVED_REFUND)
    def resolve_refund(self):
        pass

    del S


class P2PTradeStatusChange(StatusChange):
    """The trade's timeline: every move with who, why and the version it produced."""

    trade = models.ForeignKey(P2PTrade, on_delete=models.PROTECT, related_name="history")
    version = models.PositiveIntegerField(help_text="The trade's version after this move.")


class P2PEvidence(models.Model):
    """A payment proof or appeal evidence uploaded by one side (append-only; staff read both)."""

    class Kind(models.TextChoices):
        PAYMENT_PROOF = "payment_proof", "Payment proof"
        APPEAL = "appeal", "Appeal evidence"

    trade = models.ForeignKey(P2PTrade, on_delete=models.PROTECT, related_name="evidence")
    side = models.CharField(max_length=6, choices=Side.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to="p2p_evidence/%Y/%m/", blank=True)
    note = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "P2P evidence"
        verbose_name_plural = "P2P evidence"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by the {self.side} of T{self.trade_id}"


class P2PAppealItem(P2PTrade):
    """The appeal queue (admin): the same rows, where they wait for a staff decision."""

    class Meta:
        proxy = True
        verbose_name = "trade in appeal"
        verbose_name_plural = "appeal queue"
