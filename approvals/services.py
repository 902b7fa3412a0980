"""Work-order services: open, decide, cancel; flow versions; fee-reserve requests; travel-rule capture.

The recipe of every service: one ``transaction.atomic`` (joining the caller's when there is
one), the work-order row locked with ``select_for_update``, the rule checked, then the change
with its audit rows (``WorkOrderEvent``, ``WorkOrderDecision``). A refusal raises a
``DomainError`` and leaves nothing changed.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import can_proceed

from approvals.defaults import DEFAULT_FLOWS
from approvals.handlers import get_handler
from approvals.models import (
    ApprovalFlow,
    ApprovalStep,
    Condition,
    FeeReserveRequest,
    TravelRuleRecord,
    WorkOrder,
    WorkOrderDecision,
    WorkOrderEvent,
    WorkOrderStep,
    WorkOrderType,
)
from approvals.screening import ALERT, REJECT
from approvals.travel_rule import same_address, travel_rule_validate
from core.errors import DomainError

logger = logging.getLogger(__name__)

Status = WorkOrder.Status
StepState = WorkOrderStep.State
Kind = WorkOrderEvent.Kind

# The codes this app adds to the public table (core.errors), with their statuses.
MAKER_CANNOT_APPROVE = ("maker_cannot_approve", 403)
ALREADY_DECIDED = ("already_decided", 409)
WORK_ORDER_CLOSED = ("work_order_closed", 409)
TRAVEL_RULE_REQUIRED = ("travel_rule_required", 409)
APPROVAL_BLOCKED = ("approval_blocked", 409)
GATE_STATUS = {TRAVEL_RULE_REQUIRED[0]: 409, APPROVAL_BLOCKED[0]: 409}


def _error(code_status: tuple[str, int], detail: str, *, field: str | None = None) -> DomainError:
    code, status = code_status
    return DomainError(code, detail, field=field, status=status)


def _event(work_order: WorkOrder, kind: str, *, actor=None, reason: str = "", step: WorkOrderStep | None = None,
           from_status: str = "", to_status: str = "", data: dict | None = None) -> WorkOrderEvent:
    return WorkOrderEvent.objects.create(
        work_order=work_order, kind=kind, actor=actor, reason=reason, from_status=from_status,
        to_status=to_status, step_position=step.position if step else None, data=data or {},
    )


# --- flows ---------------------------------------------------------------------------------------

def _default_flow(type: str) -> ApprovalFlow:  # noqa: A002
    """Create the default flow of ``type`` as a new active version (no active flow was found)."""
    steps = DEFAULT_FLOWS.get(type)
    if steps is None:
        raise DomainError("validation_error", f"Unknown work-order type {type!r}.", field="type")
    try:
        with transaction.atomic():
            version = (ApprovalFlow.objects.filter(type=type).aggregate(v=Max("version"))["v"] or 0) + 1
            flow = ApprovalFlow.objects.create(type=type, version=version, active=True,
                                               description="Default flow, created because no flow was active.")
            for position, (name, group, n, condition, threshold, currency) in enumerate(steps, start=1):
                ApprovalStep.objects.create(flow=flow, position=position, name=name,
                                            group=Group.objects.get_or_create(name=group)[0],
                                            approvals_required=n, condition=condition, threshold=threshold,
                                            threshold_currency=currency)
    except IntegrityError:  # another connection created it first
        return ApprovalFlow.objects.get(type=type, active=True)
    logger.warning("no active approval flow for %s: created default flow v%s", type, flow.version)
    return flow


def _active_flow(type: str) -> ApprovalFlow:  # noqa: A002
    flow = ApprovalFlow.objects.filter(type=type, active=True).first()
    return flow or _default_flow(type)


def approval_flow_new_version(*, flow: ApprovalFlow, actor) -> ApprovalFlow:
    """Copy a flow (and its steps) to a new, inactive version that staff can edit."""
    with transaction.atomic():
        # Lock the type's flows so two copies do not race for the same version number.
        list(ApprovalFlow.objects.select_for_update().filter(type=flow.type))
        version = ApprovalFlow.objects.filter(type=flow.type).aggregate(v=Max("version"))["v"] + 1
        copy = ApprovalFlow.objects.create(type=flow.type, version=version, active=False, created_by=actor,
                                           description=f"Copied from v{flow.version}. {flow.description}".strip())
        ApprovalStep.objects.bulk_create([
            ApprovalStep(flow=copy, position=s.position, name=s.name, group_id=s.group_id,
                         approvals_required=s.approvals_required, condition=s.condition, threshold=s.threshold,
                         threshold_currency=s.threshold_currency)
            for s in flow.steps.all()
        ])
    return copy


def approval_flow_activate(*, flow: ApprovalFlow, actor) -> ApprovalFlow:
    """Make ``flow`` the version new work orders of its type follow; open ones keep theirs."""
    with transaction.atomic():
        flows = list(ApprovalFlow.objects.select_for_update().filter(type=flow.type))
        flow = next(f for f in flows if f.pk == flow.pk)
        if flow.active:
            return flow
        steps = list(flow.steps.all())
        if not steps:
            raise DomainError("validation_error", "A flow needs at least one step.", field="steps")
        for step in steps:
            try:
                step.full_clean(exclude=["flow"])
            except ValidationError as error:
                messages = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                raise DomainError("validation_error", f"Step {step.position} ({step.name}): {messages}",
                                  field="steps")
        ApprovalFlow.objects.filter(type=flow.type, active=True).update(active=False)
        flow.active = True
        flow.save(update_fields=["active"])
    logger.info("approval flow %s activated by %s", flow, actor)
    return flow


# --- conditions ----------------------------------------------------------------------------------

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


# --- open ----------------------------------------------------------------------------------------

def work_order_open(*, type: str, subject, maker, context: dict | None = None) -> WorkOrder:  # noqa: A002
    """Open the work order of ``subject`` (inside the caller's transaction).

    Evaluates the flow's step conditions against the context and records the skipped steps;
    for withdrawals, screens the destination first: ``reject`` rejects the work order and the
    subject at once, ``alert`` makes "screening alert" steps apply. The subject's open work
    order of the same type is returned as is if there is one.
    """
    if type not in WorkOrderType.values:
        raise DomainError("validation_error", f"Unknown work-order type {type!r}.", field="type")
    handler = get_handler(type)
    content_type = ContentType.objects.get_for_model(subject)
    with transaction.atomic():
        existing = WorkOrder.objects.filter(content_type=content_type, object_id=subject.pk, type=type,
                                            status=Status.OPEN).first()
        if existing is not None:
            return existing
        ctx = {**(context or {}), **handler.context(subject)}
        screening = handler.screen(subject, ctx)
        if screening is not None:
            ctx["screening"] = screening.outcome
        flow = _active_flow(type)
        amount = ctx.get("amount")
        try:
            with transaction.atomic():
                work_order = WorkOrder.objects.create(
                    type=type, content_type=content_type, object_id=subject.pk, flow=flow, maker=maker,
                    subject_label=handler.describe(subject)[:300], context=ctx,
                    amount=Decimal(amount) if amount is not None else None, currency=ctx.get("currency") or "",
                    screening=screening.as_dict() if screening else None,
                    screening_outcome=screening.outcome if screening else "",
                )
        except IntegrityError:  # opened concurrently by another connection
            return WorkOrder.objects.get(content_type=content_type, object_id=subject.pk, type=type,
                                         status=Status.OPEN)
        _event(work_order, Kind.OPENED, actor=maker, to_status=Status.OPEN, reason=f"Flow {flow}",
               data={"flow_id": flow.pk, "version": flow.version})
        if screening is not None:
            _event(work_order, Kind.SCREENED, reason=screening.reason, data=screening.as_dict())

        steps = _snapshot_steps(work_order, flow, ctx)
        if screening is not None and screening.outcome == REJECT:
            reason = f"Screening rejected the destination: {screening.reason}"
            _close(work_order, "reject", actor=None, reason=reason)
            handler.on_rejected(work_order, None, reason)
            return work_order
        _start(work_order, steps[0] if steps else None)
    return work_order


def _snapshot_steps(work_order: WorkOrder, flow: ApprovalFlow, ctx: dict) -> list[WorkOrderStep]:
    """Copy the flow's steps onto the work order, each with why it applies or was skipped;
    return those that apply, in order."""
    rows = []
    for step in flow.steps.all().order_by("position"):
        applies, why = step_applies(step, ctx)
        rows.append(WorkOrderStep(
            work_order=work_order, position=step.position, name=step.name, group_id=step.group_id,
            approvals_required=step.approvals_required, condition=step.condition, threshold=step.threshold,
            threshold_currency=step.threshold_currency, state=StepState.PENDING if applies else StepState.SKIPPED,
            note=why))
    if rows and not any(row.state == StepState.PENDING for row in rows):
        # Never approve without a person: the first step applies after all.
        rows[0].state = StepState.PENDING
        rows[0].note = f"{rows[0].note} No step applied; the first step is kept so that a person approves."
    WorkOrderStep.objects.bulk_create(rows)
    for row in rows:
        if row.state == StepState.SKIPPED:
            _event(work_order, Kind.STEP_SKIPPED, step=row, reason=row.note)
    return [row for row in rows if row.state == StepState.PENDING]


def _start(work_order: WorkOrder, step: WorkOrderStep | None) -> None:
    step.state = StepState.CURRENT
    step.save(update_fields=["state"])
    work_order.current_position = step.position
    work_order.save(update_fields=["current_position", "updated_at"])
    _event(work_order, Kind.STEP_STARTED, step=step,
           reason=f"Waiting for {step.approvals_required} approval(s) from {step.group.name}.")


def _close(work_order: WorkOrder, transition: str, *, actor, reason: str) -> None:
    from_status = work_order.status
    getattr(work_order, transition)()
    work_order.reason = reason
    work_order.closed_at = timezone.now()
    work_order.current_position = None
    work_order.save(update_fields=["status", "reason", "closed_at", "current_position", "updated_at"])
    WorkOrderStep.objects.filter(work_order=work_order, state__in=[StepState.PENDING, StepState.CURRENT]
                                 ).update(state=StepState.CLOSED)
    _event(work_order, Kind.STATUS, actor=actor, reason=reason, from_status=from_status, to_status=work_order.status)


# --- decide --------------------------------------------------------------------------------------

def _locked(work_order: WorkOrder | int) -> WorkOrder:
    """Lock the subject row, then the work order: the order the subjects' own services use
    (e.g. ``withdrawal_cancel`` locks the order, then cancels its work order), so a decision and a
    cancel running together wait for each other instead of deadlocking."""
    pk = work_order.pk if isinstance(work_order, WorkOrder) else work_order
    content_type_id, object_id = WorkOrder.objects.filter(pk=pk).values_list("content_type_id", "object_id").get()
    model = ContentType.objects.get_for_id(content_type_id).model_class()
    if model is not None:
        list(model._default_manager.select_for_update(of=("self",)).filter(pk=object_id).values_list("pk"))
    return WorkOrder.objects.select_for_update(of=("self",)).get(pk=pk)


def user_is_in_group(user, group_id: int) -> bool:
    return bool(user and user.is_active and user.is_staff and user.groups.filter(pk=group_id).exists())


def decide_refusal(work_order: WorkOrder, step: WorkOrderStep | None, user) -> DomainError | None:
    """Why ``user`` may not decide now (None: they may). Shared by the service and the admin."""
    if work_order.status != Status.OPEN or step is None:
        return _error(WORK_ORDER_CLOSED, f"The work order is {work_order.get_status_display().lower()}.")
    if work_order.maker_id is not None and user.pk == work_order.maker_id:
        return _error(MAKER_CANNOT_APPROVE, "The maker of a work order cannot decide it.")
    if WorkOrderDecision.objects.filter(work_order=work_order, actor=user).exists():
        return _error(ALREADY_DECIDED, "You have already decided on this work order.")
    if not user_is_in_group(user, step.group_id):
        return DomainError("permission_denied", f"Only members of {step.group.name} decide at step "
                                                f"{step.position} ({step.name}).")
    return None


def work_order_decide(*, work_order: WorkOrder | int, actor, decision: str, comment: str = "") -> WorkOrder:
    """Approve or reject at the current step.

    The maker never decides; a person decides at most once per work order; only members of the
    current step's group decide; a rejection needs a comment. N approvals complete a step and the
    next applicable step starts; the last one approves the work order (after the handler's gates)
    and calls ``on_approved``. A rejection rejects the work order and calls ``on_rejected``.
    """
    comment = (comment or "").strip()
    if decision not in WorkOrderDecision.Decision.values:
        raise DomainError("validation_error", "The decision is approve or reject.", field="decision")
    if decision == WorkOrderDecision.Decision.REJECT and not comment:
        raise DomainError("validation_error", "A rejection needs a comment.", field="comment")
    with transaction.atomic():
        work_order = _locked(work_order)
        steps = list(work_order.steps.select_related("group").order_by("position"))
        step = next((s for s in steps if s.position == work_order.current_position), None)
        refusal = decide_refusal(work_order, step, actor)
        if refusal is not None:
            raise refusal
        handler = get_handler(work_order.type)

        if decision == WorkOrderDecision.Decision.REJECT:
            _record(work_order, step, actor, decision, comment)
            step.state, step.completed_at = StepState.REJECTED, timezone.now()
            step.save(update_fields=["state", "completed_at"])
            _event(work_order, Kind.STEP_REJECTED, actor=actor, step=step, reason=comment)
            _close(work_order, "reject", actor=actor, reason=comment)
            handler.on_rejected(work_order, actor, comment)
            return work_order

        approvals = step.decisions.filter(decision=WorkOrderDecision.Decision.APPROVE).count() + 1
        next_step = next((s for s in steps if s.position > step.position and s.state == StepState.PENDING), None)
        if approvals >= step.approvals_required and next_step is None:
            blocks = handler.gate_errors(work_order)
            if blocks:
                code = handler.gate_error_code
                raise DomainError(code, " ".join(blocks), status=GATE_STATUS.get(code, 409))
        _record(work_order, step, actor, decision, comment)
        if approvals < step.approvals_required:
            return work_order
        step.state, step.completed_at = StepState.APPROVED, timezone.now()
        step.save(update_fields=["state", "completed_at"])
        _event(work_order, Kind.STEP_APPROVED, actor=actor, step=step,
               reason=f"{approvals} of {step.approvals_required} approval(s) from {step.group.name}.")
        if next_step is not None:
            _start(work_order, next_step)
            return work_order
        _close(work_order, "approve", actor=actor, reason=comment or "All steps approved.")
        handler.on_approved(work_order, actor)
    return work_order


def _record(work_order: WorkOrder, step: WorkOrderStep, actor, decision: str, comment: str) -> None:
    WorkOrderDecision.objects.create(work_order=work_order, step=step, actor=actor, decision=decision,
                                     comment=comment)
    _event(work_order, Kind.DECIDED, actor=actor, step=step, reason=comment,
           data={"decision": decision, "step": step.name})


# --- cancel --------------------------------------------------------------------------------------

def work_order_cancel(*, subject, actor, reason: str) -> WorkOrder | None:
    """Close the subject's open work order(s) as cancelled (the subject itself was cancelled
    by its own service). Returns the cancelled work order, or None when none was open."""
    content_type = ContentType.objects.get_for_model(subject)
    cancelled = None
    with transaction.atomic():
        for work_order in (WorkOrder.objects.select_for_update().filter(content_type=content_type,
                                                                        object_id=subject.pk, status=Status.OPEN)):
            _close(work_order, "cancel", actor=actor, reason=reason or "Cancelled")
            cancelled = work_order
    return cancelled


# --- travel rule ---------------------------------------------------------------------------------

def withdrawal_travel_rule_set(*, order, data: dict, actor):
    """Staff capture a withdrawal's travel-rule data (writes only ``travel_rule``), audited."""
    from chains.models import Network
    from withdrawals.models import WithdrawalOrder

    if not (actor and actor.is_active and actor.is_staff and actor.has_perm("approvals.capture_travel_rule")):
        raise DomainError("permission_denied", "You may not capture travel-rule data.")
    normalized = travel_rule_validate(data)
    pk = order.pk if isinstance(order, WithdrawalOrder) else order
    with transaction.atomic():
        order = (WithdrawalOrder.objects.select_for_update(of=("self",))
                 .select_related("coin__network").get(pk=pk))
        if order.status in WithdrawalOrder.TERMINAL:
            raise DomainError("invalid_transition",
                              f"A {order.get_status_display().lower()} withdrawal's travel-rule data is final.")
        evm = order.coin.network.kind == Network.Kind.EVM
        if not same_address(normalized["beneficiary"]["address"], order.destination, case_insensitive=evm):
            raise DomainError("validation_error", "The beneficiary address must be the withdrawal's destination.",
                              field="travel_rule.beneficiary.address")
        if order.travel_rule == normalized:
            return order
        previous = order.travel_rule
        WithdrawalOrder.objects.filter(pk=order.pk).update(travel_rule=normalized)
        TravelRuleRecord.objects.create(order=order, actor=actor, previous=previous, data=normalized)
        content_type = ContentType.objects.get_for_model(WithdrawalOrder)
        for work_order in WorkOrder.objects.filter(content_type=content_type, object_id=order.pk,
                                                   status=Status.OPEN):
            _event(work_order, Kind.TRAVEL_RULE, actor=actor, reason="Travel-rule data captured.",
                   data={"previous": previous, "data": normalized})
        order.travel_rule = normalized
    return order


# --- fee reserve ---------------------------------------------------------------------------------

def fee_reserve_request_create(*, tenant, currency: str, amount: Decimal | str, kind: str, actor,
                               note: str = "") -> FeeReserveRequest:
    """Staff ask to record a main-account top-up or move sub-account → main account; opens the
    work order (``atm.va.main_account_topup`` / ``atm.va.sub_to_main_transfer``)."""
    from chains.models import Currency

    if kind not in FeeReserveRequest.Kind.values:
        raise DomainError("validation_error", "The kind is main_topup or sub_to_main.", field="kind")
    try:
        amount = Decimal(str(amount))
    except InvalidOperation:
        raise DomainError("invalid_amount", field="amount")
    if not amount.is_finite() or amount <= 0:
        raise DomainError("amount_not_positive", field="amount")
    code = getattr(currency, "code", currency)
    currency_row = Currency.objects.filter(code=code).first()
    if currency_row is None:
        raise DomainError("validation_error", f"Unknown currency {code!r}.", field="currency")
    if -amount.as_tuple().exponent > currency_row.decimals:
        raise DomainError("amount_precision", f"{code} has {currency_row.decimals} decimals.", field="amount")
    if not (actor and actor.is_active and actor.is_staff):
        raise DomainError("permission_denied", "Only staff request fee-reserve moves.")
    with transaction.atomic():
        request = FeeReserveRequest.objects.create(tenant=tenant, currency=currency_row, amount=amount, kind=kind,
                                                   note=(note or "").strip(), requested_by=actor)
        work_order_open(type=FeeReserveRequest.WORK_ORDER_TYPES[kind], subject=request, maker=actor)
    return request


def _locked_request(request_id: int) -> FeeReserveRequest:
    return (FeeReserveRequest.objects.select_for_update(of=("self",)).select_related("tenant", "currency")
            .get(pk=request_id))


def fee_reserve_request_book(*, request_id: int, actor) -> FeeReserveRequest:
    """The work order approved: book the ledger transfer (called by the handler)."""
    from ledger.services import ledger_transfer

    with transaction.atomic():
        request = _locked_request(request_id)
        if request.status == FeeReserveRequest.Status.APPROVED:
            return request
        if not can_proceed(request.approve):
            raise DomainError("invalid_transition", f"The request is {request.get_status_display().lower()}.")
        request.approve()
        request.decided_at = timezone.now()
        request.save(update_fields=["status", "decided_at"])
        ledger_transfer(tenant=request.tenant, currency=request.currency.code, amount=request.amount,
                        kind=request.kind, reference=request.reference)
    return request


def fee_reserve_request_close(*, request_id: int, actor, reason: str, transition: str = "reject"
                              ) -> FeeReserveRequest:
    """The work order was rejected (``reject``) or the request withdrawn (``cancel``)."""
    with transaction.atomic():
        request = _locked_request(request_id)
        method = getattr(request, transition)
        if not can_proceed(method):
            raise DomainError("invalid_transition", f"The request is {request.get_status_display().lower()}.")
        method()
        request.reason, request.decided_at = reason, timezone.now()
        request.save(update_fields=["status", "reason", "decided_at"])
    return request


def fee_reserve_request_cancel(*, request: FeeReserveRequest, actor, reason: str) -> FeeReserveRequest:
    """The requester (or staff) withdraws a pending request; its work order is cancelled."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "A reason is required.", field="reason")
    with transaction.atomic():
        request = fee_reserve_request_close(request_id=request.pk, actor=actor, reason=reason, transition="cancel")
        work_order_cancel(subject=request, actor=actor, reason=reason)
    return request
