"""Work orders (WBO): configurable multi-step approval of withdrawals, address reviews and
fee-reserve moves (SPEC.md, "Work orders (WBO)"), with the screening list and price table the
gates use.

A work order is about a *subject* (any model row) and follows the steps of the flow version
that was active when it opened. The steps are copied onto the work order (``WorkOrderStep``), so
editing a flow later changes nothing for work orders already open. ``status`` moves only through
``approvals.services``; decisions and events are append-only (database triggers refuse UPDATE
and DELETE, see migration 0002).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.fields import AmountField
from core.history import StatusChange, config_history
from core.transitions import Audited


class WorkOrderType(models.TextChoices):
    """The public work-order identifiers (SPEC.md). Rename nothing."""

    COIN_WITHDRAW_APPLY = "atm.va.coin_withdraw_apply", "Withdrawal (atm.va.coin_withdraw_apply)"
    ADDRESS_VERIFY = "atm.va.address_verify", "Address review (atm.va.address_verify)"
    MAIN_ACCOUNT_TOPUP = "atm.va.main_account_topup", "Main account top-up (atm.va.main_account_topup)"
    SUB_TO_MAIN_TRANSFER = "atm.va.sub_to_main_transfer", "Sub-account to main account (atm.va.sub_to_main_transfer)"
    HOT_WALLET_OPENING = "atm.va.hot_wallet_opening", "Hot-wallet opening balance (atm.va.hot_wallet_opening)"
    RECONCILIATION_ACK = "atm.va.reconciliation_ack", "Reconciliation alert acknowledgement (atm.va.reconciliation_ack)"
    WITHDRAW_RESOLVE = "atm.va.withdraw_resolve", "Withdrawal resolution (atm.va.withdraw_resolve)"
    CONFIG_CHANGE = "atm.config.change", "Configuration change (atm.config.change)"


class Condition(models.TextChoices):
    """When a step applies. Evaluated once, when the work order opens, against its context."""

    ALWAYS = "always", "Always"
    AMOUNT_GTE = "amount_gte", "Amount ≥ threshold (in the threshold currency, e.g. ETH)"
    VALUE_GTE = "value_gte", "Value ≥ threshold (in USD or HKD, from the price table)"
    SCREENING_ALERT = "screening_alert", "Screening raised an alert"
    TRAVEL_RULE_REQUIRED = "travel_rule_required", "Travel rule applies (value ≥ TRAVEL_RULE_THRESHOLD_HKD)"


VALUE_QUOTES = ("USD", "HKD")


class StepDefinition(models.Model):
    """What a flow step and a work-order step share: group, N approvers and condition."""

    position = models.PositiveSmallIntegerField(help_text="Order of the step in the flow (1 first).")
    name = models.CharField(max_length=100)
    group = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+",
                              help_text="Only members of this group may decide at this step.")
    approvals_required = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)],
        help_text="How many distinct members of the group must approve (N of the group).")
    condition = models.CharField(max_length=24, choices=Condition.choices, default=Condition.ALWAYS,
                                 help_text="When the step applies; a step that does not apply is skipped "
                                           "and the skip is recorded on the work order.")
    threshold = AmountField(null=True, blank=True,
                            help_text="For amount/value conditions: the step applies at or above this.")
    threshold_currency = models.CharField(
        max_length=12, blank=True,
        help_text="Amount condition: the coin's currency code (ETH, USDT); the step applies only to "
                  "work orders in that currency. Value condition: USD or HKD.")

    class Meta:
        abstract = True

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.condition in (Condition.AMOUNT_GTE, Condition.VALUE_GTE):
            if self.threshold is None or self.threshold <= 0:
                errors["threshold"] = "A positive threshold is required for this condition."
            code = (self.threshold_currency or "").strip().upper()
            if not code:
                errors["threshold_currency"] = "Say which currency the threshold is in."
            elif self.condition == Condition.VALUE_GTE and code not in VALUE_QUOTES:
                errors["threshold_currency"] = "A value threshold is in USD or HKD."
            self.threshold_currency = code
        elif self.threshold is not None or self.threshold_currency:
            errors["threshold"] = "Only amount and value conditions take a threshold."
        if errors:
            raise ValidationError(errors)

    def condition_label(self) -> str:
        if self.condition in (Condition.AMOUNT_GTE, Condition.VALUE_GTE):
            return f"≥ {self.threshold.normalize():f} {self.threshold_currency}"
        return "" if self.condition == Condition.ALWAYS else self.get_condition_display()


@config_history()
class ApprovalFlow(models.Model):
    """One version of the approval flow of a work-order type. One active version per type.

    A version that work orders have used is never edited: staff copy it to a new version
    (admin action), edit the copy and activate it.
    """

    type = models.CharField(max_length=40, choices=WorkOrderType.choices, db_index=True)
    version = models.PositiveIntegerField()
    active = models.BooleanField(default=False, help_text="New work orders of the type follow the active version.")
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["type", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["type", "version"], name="approval_flow_type_version_unique"),
            models.UniqueConstraint(fields=["type"], condition=Q(active=True),
                                    name="approval_flow_one_active_per_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} v{self.version}{' (active)' if self.active else ''}"

    @property
    def is_used(self) -> bool:
        return self.pk is not None and self.work_orders.exists()


@config_history()
class ApprovalStep(StepDefinition):
    flow = models.ForeignKey(ApprovalFlow, on_delete=models.CASCADE, related_name="steps")

    class Meta:
        ordering = ["flow", "position"]
        constraints = [models.UniqueConstraint(fields=["flow", "position"], name="approval_step_position_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class WorkOrder(Audited, FSMModelMixin, models.Model):
    event_name = "work_order"  # events: work_order.approved, ... (decisions: work_order.decided)

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    type = models.CharField(max_length=40, choices=WorkOrderType.choices, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField(db_index=True)
    subject = GenericForeignKey("content_type", "object_id")
    subject_label = models.CharField(max_length=300, blank=True, help_text="The subject described when opened.")
    status = FSMField(default=Status.OPEN, choices=Status.choices, protected=True, db_index=True)
    flow = models.ForeignKey(ApprovalFlow, on_delete=models.PROTECT, related_name="work_orders",
                             help_text="The flow version this work order follows.")
    current_position = models.PositiveSmallIntegerField(null=True, blank=True,
                                                        help_text="Position of the step waiting for decisions.")
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="Who requested it; never approves it.")
    context = models.JSONField(default=dict, blank=True,
                               help_text="What the step conditions were evaluated against.")
    amount = AmountField(null=True, blank=True)
    currency = models.CharField(max_length=12, blank=True)
    screening = models.JSONField(null=True, blank=True, help_text="Screening result: outcome, reason, hits.")
    screening_outcome = models.CharField(max_length=8, blank=True, db_index=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected or cancelled.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"]),
                   models.Index(fields=["status", "type", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id", "type"], condition=Q(status="open"),
                                    name="work_order_one_open_per_subject_type"),
        ]
        permissions = [("capture_travel_rule", "Can capture travel-rule data of a withdrawal")]

    def __str__(self) -> str:
        return f"WO{self.pk} {self.type}"

    @property
    def current_step(self) -> WorkOrderStep | None:
        if self.current_position is None:
            return None
        return next((s for s in self.steps.all() if s.position == self.current_position), None)

    def event_data(self) -> dict:
        return {"work_order_id": self.pk, "type": self.type, "subject_type_id": self.content_type_id,
                "subject_id": self.object_id}

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return WorkOrderEvent(work_order=self, kind=WorkOrderEvent.Kind.STATUS, actor=actor, reason=reason,
                              from_status=from_state, to_status=to_state)

    # Moves: no side effects here; approvals.services locks, audits and calls the handler.
    @transition(field=status, source=Status.OPEN, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.OPEN, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=Status.OPEN, target=Status.CANCELLED)
    def cancel(self):
        pass


class WorkOrderStep(Audited, FSMModelMixin, StepDefinition):
    """A step of a work order: the flow step as it was when the work order opened. Its moves are
    audited as events of the work order (the step's position and the kind of move)."""

    state_field = "state"
    event_name = "work_order_step"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        CURRENT = "current", "Waiting for decisions"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Skipped"
        CLOSED = "closed", "Not reached (closed)"

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="steps")
    state = FSMField(max_length=10, choices=State.choices, default=State.PENDING, protected=True)
    note = models.TextField(blank=True, help_text="Why the step applies or was skipped (its condition).")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["work_order", "position"]
        constraints = [models.UniqueConstraint(fields=["work_order", "position"], name="work_order_step_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name} ({self.state})"

    EVENT_KINDS = {"start": "step_started", "approve": "step_approved", "reject": "step_rejected"}

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        kind = self.EVENT_KINDS.get(transition)
        if kind is None:
            return None  # closed with its work order: the work order's own status event tells it
        return WorkOrderEvent(work_order_id=self.work_order_id, kind=kind, actor=actor, reason=reason,
                              step_position=self.position)

    S = State

    @transition(field=state, source=S.PENDING, target=S.CURRENT)
    def start(self):
        pass

    @transition(field=state, source=S.CURRENT, target=S.APPROVED)
    def approve(self):
        pass

    @transition(field=state, source=S.CURRENT, target=S.REJECTED)
    def reject(self):
        pass

    @transition(field=state, source=[S.PENDING, S.CURRENT], target=S.CLOSED)
    def close(self):
        pass

    del S


class WorkOrderDecision(models.Model):
    """An approval or rejection. Immutable (trigger); one per person per work order."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="decisions")
    step = models.ForeignKey(WorkOrderStep, on_delete=models.PROTECT, related_name="decisions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "actor"], name="work_order_one_decision_per_person"),
            models.CheckConstraint(condition=Q(decision="approve") | ~Q(comment=""),
                                   name="work_order_reject_has_comment"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.actor_id} on WO{self.work_order_id}"


class WorkOrderEvent(models.Model):
    """Audit row: every decision, step move and status move of a work order. Append-only."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        SCREENED = "screened", "Screened"
        STEP_SKIPPED = "step_skipped", "Step skipped"
        STEP_STARTED = "step_started", "Step waiting for decisions"
        DECIDED = "decided", "Decision"
        STEP_APPROVED = "step_approved", "Step approved"
        STEP_REJECTED = "step_rejected", "Step rejected"
        STATUS = "status", "Status changed"
        TRAVEL_RULE = "travel_rule", "Travel-rule data captured"

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    step_position = models.PositiveSmallIntegerField(null=True, blank=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="Empty when the system acted (e.g. screening).")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"WO{self.work_order_id} {self.kind}"


class MyQueue(WorkOrder):
    """Admin entry "My queue": work orders waiting for the logged-in staff member."""

    class Meta:
        proxy = True
        verbose_name = "work order in my queue"
        verbose_name_plural = "my queue"


# --- Screening list ---------------------------------------------------------------------------


@config_history(exclude=["updated_at"])
class RiskListEntry(models.Model):
    """An address known to be risky, maintained by compliance. The shipped screening provider
    (``approvals.screening.RiskListProvider``) scores destinations against this list."""

    class Category(models.TextChoices):
        SANCTIONS = "sanctions", "Sanctions"
        MIXER = "mixer", "Mixer / tumbler"
        SCAM = "scam", "Scam / fraud"
        DARKNET = "darknet", "Darknet market"
        STOLEN = "stolen", "Stolen funds / hack"
        GAMBLING = "gambling", "Unlicensed gambling"
        OTHER = "other", "Other"

    class Level(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        SEVERE = "severe", "Severe"

    network = models.ForeignKey("chains.Network", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="Empty: the address is listed on every network.")
    address = models.CharField(max_length=128, db_index=True,
                               help_text="As published; EVM addresses match case-insensitively.")
    category = models.CharField(max_length=12, choices=Category.choices)
    level = models.CharField(max_length=8, choices=Level.choices,
                             help_text="Severe (or any sanctions entry): withdrawals are rejected. High/medium: "
                                       "alert, the compliance step applies. Low: accepted, the hit is recorded.")
    source = models.CharField(max_length=200, blank=True, help_text="Where the entry comes from (list, case number).")
    note = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="Inactive entries are kept but no longer match.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "risk list entry"
        verbose_name_plural = "risk list"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "address", "category"], name="risk_entry_unique",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.category}, {self.level})"

    def clean(self) -> None:
        self.address = (self.address or "").strip()


# --- Price table ------------------------------------------------------------------------------


@config_history()
class PriceQuote(models.Model):
    """The price of one unit of a currency in USD or HKD, maintained by staff. Used for value
    thresholds (steps, travel rule). A missing or stale quote makes the value unknown, and value
    conditions then apply (fail safe)."""

    class Quote(models.TextChoices):
        USD = "USD", "USD"
        HKD = "HKD", "HKD"

    currency = models.ForeignKey("chains.Currency", on_delete=models.PROTECT, related_name="+")
    quote = models.CharField(max_length=3, choices=Quote.choices)
    price = AmountField(help_text="Price of one unit of the currency in the quote currency.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency__code", "quote"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "quote"], name="price_quote_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="price_quote_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency_id and self.currency.code}/{self.quote} {self.price}"


# --- Fee reserve moves (subjects of the fee-reserve work orders) -------------------------------


class FeeReserveRequest(Audited, FSMModelMixin, models.Model):
    """A staff request to record a main-account top-up or move funds sub-account → main account.
    Opening one opens its work order; the ledger transfer is booked when the work order approves."""

    class Kind(models.TextChoices):
        MAIN_TOPUP = "main_topup", "Main account top-up"
        SUB_TO_MAIN = "sub_to_main", "Sub-account → main account"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved (booked)"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    WORK_ORDER_TYPES = {
        Kind.MAIN_TOPUP: WorkOrderType.MAIN_ACCOUNT_TOPUP,
        Kind.SUB_TO_MAIN: WorkOrderType.SUB_TO_MAIN_TRANSFER,
    }

    tenant = models.ForeignKey("customers.Tenant", on_delete=models.PROTECT, related_name="+")
    currency = models.ForeignKey("chains.Currency", on_delete=models.PROTECT, related_name="+")
    amount = AmountField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    note = models.TextField(blank=True, help_text="E.g. the venue's transfer reference.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text="Who approved, rejected or cancelled it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="fee_reserve_amount_positive")]

    def __str__(self) -> str:
        return f"FRR{self.pk} {self.get_kind_display()} {self.amount} {self.currency_id and self.currency.code}"

    @property
    def reference(self) -> str:
        return f"fee-reserve:{self.pk}"

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return FeeReserveRequestStatusChange(request=self, from_status=from_state, to_status=to_state,
                                             actor=actor, reason=reason)

    @transition(field=status, source=Status.PENDING, target=Status.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.CANCELLED)
    def cancel(self):
        pass


class FeeReserveRequestStatusChange(StatusChange):
    """Audit row for every move of a fee-reserve request."""

    request = models.ForeignKey(FeeReserveRequest, on_delete=models.PROTECT, related_name="history")


# --- Configuration changes that loosen a control (subjects of atm.config.change) ---------------------


class ConfigChange(Audited, FSMModelMixin, models.Model):
    """A change of a control's settings proposed by one person (docs/APPROVALS.md, atm.config.change).

    ``config_change_propose`` applies what tightens at once (``applied_at_once``) and keeps what
    loosens (``changes``: field -> {"old", "new"}) here, pending, with its work order; the work
    order's approval by a second person applies it, provided every field still holds its "old"
    value (compare-and-set). Values are stored as JSON (decimals as exact strings).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a second person"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    target_label = models.CharField(max_length=300, blank=True, help_text="The target as it was described.")
    changes = models.JSONField(default=dict, blank=True,
                               help_text="Loosening fields waiting for the second person: field -> {old, new}.")
    applied_at_once = models.JSONField(default=dict, blank=True,
                                       help_text="Fields that tightened (or changed no control): "
                                                 "applied when proposed.")
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              help_text="Who proposed it; never approves it.")
    reason = models.TextField(blank=True)
    status = FSMField(default=Status.PENDING, choices=Status.choices, protected=True, db_index=True)
    work_order = models.ForeignKey(WorkOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text="Who approved or rejected the work order.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "status"])]

    def __str__(self) -> str:
        return f"CC{self.pk} {self.target_label}"

    def summary(self) -> str:
        """``max_amount 100 → 200; confirmations 12 → 6`` (the waiting fields)."""
        return "; ".join(f"{name} {_text(v['old'])} → {_text(v['new'])}" for name, v in self.changes.items())

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return ConfigChangeStatusChange(change=self, from_status=from_state, to_status=to_state,
                                        actor=actor, reason=reason)

    @transition(field=status, source=Status.PENDING, target=Status.APPLIED)
    def apply(self):
        pass

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self):
        pass


def _text(value) -> str:
    return "(empty)" if value in (None, "") else str(value)


class ConfigChangeStatusChange(StatusChange):
    """Audit row for every move of a configuration change."""

    change = models.ForeignKey(ConfigChange, on_delete=models.PROTECT, related_name="history")
