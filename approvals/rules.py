"""The rules of the approvals engine, without side effects: whether a step applies to a work
order's context, and whether a person may decide now. Shared by the services and the admin."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from approvals.models import Condition, WorkOrder, WorkOrderDecision, WorkOrderStep
from approvals.screening import ALERT
from core.errors import DomainError

Status = WorkOrder.Status


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def step_applies(step, context: dict) -> tuple[bool, str]:
    """Whether a step's condition applies to a context, and why (recorded on the work order)."""
    condition = step.condition
    if condition == Condition.ALWAYS:
        return True, "Always applies."
    if condition == Condition.AMOUNT_GTE:
        currency = context.get("currency")
        if currency != step.threshold_currency:
            return False, f"Threshold is for {step.threshold_currency}; this is {currency or 'not an amount'}."
        try:
            amount = Decimal(str(context["amount"]))
        except (KeyError, InvalidOperation):
            return True, "Amount unknown: the step applies."
        if amount >= step.threshold:
            return True, f"Amount {_fmt(amount)} {currency} ≥ {_fmt(step.threshold)}."
        return False, f"Amount {_fmt(amount)} {currency} below {_fmt(step.threshold)}."
    if condition == Condition.VALUE_GTE:
        quote = step.threshold_currency
        raw = context.get(f"value_{quote.lower()}")
        if raw is None:
            return True, f"No {quote} price for {context.get('currency', 'the currency')}: the step applies."
        value = Decimal(str(raw))
        if value >= step.threshold:
            return True, f"Value {_fmt(value)} {quote} ≥ {_fmt(step.threshold)} {quote}."
        return False, f"Value {_fmt(value)} {quote} below {_fmt(step.threshold)} {quote}."
    if condition == Condition.SCREENING_ALERT:
        outcome = context.get("screening")
        if outcome == ALERT:
            return True, "Screening raised an alert."
        return False, f"Screening: {outcome or 'not screened'}."
    if condition == Condition.TRAVEL_RULE_REQUIRED:
        if context.get("travel_rule_required"):
            return True, "The travel rule applies."
        return False, "Below the travel-rule threshold."
    return True, f"Unknown condition {condition!r}: the step applies."


def user_is_in_group(user, group_id: int) -> bool:
    return bool(user and user.is_active and user.is_staff and user.groups.filter(pk=group_id).exists())


def decide_refusal(work_order: WorkOrder, step: WorkOrderStep | None, user) -> DomainError | None:
    """Why ``user`` may not decide now (None: they may). Shared by the service and the admin."""
    if work_order.status != Status.OPEN or step is None:
        return DomainError("work_order_closed", f"The work order is {work_order.get_status_display().lower()}.")
    if work_order.maker_id is not None and user.pk == work_order.maker_id:
        return DomainError("maker_cannot_approve", "The maker of a work order cannot decide it.")
    if WorkOrderDecision.objects.filter(work_order=work_order, actor=user).exists():
        return DomainError("already_decided", "You have already decided on this work order.")
    if not user_is_in_group(user, step.group_id):
        return DomainError("permission_denied", f"Only members of {step.group.name} decide at step "
                                                f"{step.position} ({step.name}).")
    return None
