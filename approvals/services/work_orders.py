"""Work orders: opened for a subject, decided step by step, cancelled with their subject."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.handlers import get_handler
from approvals.models import (
    WorkOrder,
    WorkOrderDecision,
    WorkOrderEvent,
    WorkOrderStep,
    WorkOrderType,
)
from approvals.rules import decide_refusal, step_applies
from approvals.screening import REJECT
from approvals.services.flows import approval_flow_active_steps
from core.errors import DomainError
from core.transitions import transition_apply, transition_apply_all
from events.services import event_record

Status = WorkOrder.Status
StepState = WorkOrderStep.State
Kind = WorkOrderEvent.Kind


def _event_row(work_order: WorkOrder, kind: str, *, actor=None, reason: str = "", step: WorkOrderStep | None = None,
               from_status: str = "", to_status: str = "", data: dict | None = None) -> WorkOrderEvent:
    """An unsaved event row of the work order."""
    return WorkOrderEvent(
        work_order=work_order, kind=kind, actor=actor, reason=reason, from_status=from_status,
        to_status=to_status, step_position=step.position if step else None, data=data or {},
    )


def _event(work_order: WorkOrder, kind: str, **fields) -> WorkOrderEvent:
    event = _event_row(work_order, kind, **fields)
    event.save()
    return event


def work_orders_note(*, subject, kind: str, actor, reason: str, data: dict | None = None) -> int:
    """Add an event (e.g. travel-rule data captured) to the subject's open work orders; how many."""
    content_type = ContentType.objects.get_for_model(subject)
    open_orders = list(WorkOrder.objects.filter(content_type=content_type, object_id=subject.pk, status=Status.OPEN))
    for work_order in open_orders:
        _event(work_order, kind, actor=actor, reason=reason, data=data)
    return len(open_orders)


# --- open ---------------------------------------------------------------------------------------

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
    # No savepoint of its own inside the caller's transaction (two statements fewer): a refusal
    # here fails the caller's whole move, which is what every caller wants.
    with transaction.atomic(savepoint=False):
        existing = WorkOrder.objects.filter(content_type=content_type, object_id=subject.pk, type=type,
                                            status=Status.OPEN).first()
        if existing is not None:
            return existing
        ctx = {**(context or {}), **handler.context(subject)}
        screening = handler.screen(subject, ctx)
        if screening is not None:
            ctx["screening"] = screening.outcome
        flow, flow_steps = approval_flow_active_steps(type)
        verdicts = _verdicts(flow_steps, ctx)
        rejected = screening is not None and screening.outcome == REJECT
        first = next((step for step, (applies, _) in zip(flow_steps, verdicts, strict=True) if applies), None)
        amount = ctx.get("amount")
        try:
            with transaction.atomic():
                work_order = WorkOrder.objects.create(
                    type=type, content_type=content_type, object_id=subject.pk, flow=flow, maker=maker,
                    subject_label=handler.describe(subject)[:300], context=ctx,
                    amount=Decimal(amount) if amount is not None else None, currency=ctx.get("currency") or "",
                    screening=screening.as_dict() if screening else None,
                    screening_outcome=screening.outcome if screening else "",
                    # The step that starts below waits from the start (no second UPDATE for it).
                    current_position=first.position if first is not None and not rejected else None,
                )
        except IntegrityError:  # opened concurrently by another connection
            return WorkOrder.objects.get(content_type=content_type, object_id=subject.pk, type=type,
                                         status=Status.OPEN)
        rows = _snapshot_steps(work_order, flow_steps, verdicts)
        # The audit of the opening, in one INSERT: opened, screened, each skipped step.
        events = [_event_row(work_order, Kind.OPENED, actor=maker, to_status=Status.OPEN, reason=f"Flow {flow}",
                             data={"flow_id": flow.pk, "version": flow.version})]
        if screening is not None:
            events.append(_event_row(work_order, Kind.SCREENED, reason=screening.reason, data=screening.as_dict()))
        events += [_event_row(work_order, Kind.STEP_SKIPPED, step=row, reason=row.note)
                   for row in rows if row.state == StepState.SKIPPED]
        WorkOrderEvent.objects.bulk_create(events)
        WorkOrderStep.objects.bulk_create(rows)
        if rejected:
            reason = f"Screening rejected the destination: {screening.reason}"
            _close(work_order, "reject", actor=None, reason=reason)
            handler.on_rejected(work_order, None, reason)
            return work_order
        _start_step(next(row for row in rows if row.state == StepState.PENDING))
    return work_order


def _verdicts(flow_steps: list, ctx: dict) -> list[tuple[bool, str]]:
    """For each of the flow's steps: whether it applies to ``ctx``, and why (or why not)."""
    verdicts = [step_applies(step, ctx) for step in flow_steps]
    if verdicts and not any(applies for applies, _ in verdicts):
        # Never approve without a person: the first step applies after all.
        verdicts[0] = (True, f"{verdicts[0][1]} No step applied; the first step is kept so that a person approves.")
    return verdicts


def _snapshot_steps(work_order: WorkOrder, flow_steps: list, verdicts: list[tuple[bool, str]]
                    ) -> list[WorkOrderStep]:
    """The flow's steps as the work order's own (unsaved), each with why it applies or was skipped."""
    return [WorkOrderStep(
        work_order=work_order, position=step.position, name=step.name, group=step.group,
        approvals_required=step.approvals_required, condition=step.condition, threshold=step.threshold,
        threshold_currency=step.threshold_currency, state=StepState.PENDING if applies else StepState.SKIPPED,
        note=why) for step, (applies, why) in zip(flow_steps, verdicts, strict=True)]


def _start_step(step: WorkOrderStep) -> None:
    transition_apply(step, "start", actor=None,
                     reason=f"Waiting for {step.approvals_required} approval(s) from {step.group.name}.")


def _start(work_order: WorkOrder, step: WorkOrderStep) -> None:
    _start_step(step)
    work_order.current_position = step.position
    work_order.save(update_fields=["current_position", "updated_at"])


def _close(work_order: WorkOrder, transition: str, *, actor, reason: str) -> None:
    work_order.reason = reason
    work_order.closed_at = timezone.now()
    work_order.current_position = None
    transition_apply(work_order, transition, actor=actor, reason=reason,
                     fields=("reason", "closed_at", "current_position"))
    open_steps = WorkOrderStep.objects.select_for_update().filter(
        work_order=work_order, state__in=[StepState.PENDING, StepState.CURRENT]).order_by("position")
    transition_apply_all(list(open_steps), "close", actor=actor, reason=reason)


# --- decide -----------------------------------------------------------------------------------

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
        if decision == WorkOrderDecision.Decision.APPROVE:
            problems = handler.checker_problems(work_order, actor)
            if problems:
                raise DomainError("maker_cannot_approve", " ".join(problems))

        if decision == WorkOrderDecision.Decision.REJECT:
            _record(work_order, step, actor, decision, comment)
            step.completed_at = timezone.now()
            transition_apply(step, "reject", actor=actor, reason=comment, fields=("completed_at",))
            _close(work_order, "reject", actor=actor, reason=comment)
            handler.on_rejected(work_order, actor, comment)
            return work_order

        approvals = step.decisions.filter(decision=WorkOrderDecision.Decision.APPROVE).count() + 1
        next_step = next((s for s in steps if s.position > step.position and s.state == StepState.PENDING), None)
        if approvals >= step.approvals_required and next_step is None:
            blocks = handler.gate_errors(work_order)
            if blocks:
                code = handler.gate_error_code
                raise DomainError(code, " ".join(blocks))
        _record(work_order, step, actor, decision, comment)
        if approvals < step.approvals_required:
            return work_order
        step.completed_at = timezone.now()
        transition_apply(step, "approve", actor=actor, fields=("completed_at",),
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
    # The outbox row of the decision, in its transaction (webhooks: docs/WEBHOOKS.md).
    event_record(kind="work_order.decided", subject=work_order, actor=actor, payload={
        "decision": decision, "comment": comment, "step": step.name, "step_position": step.position,
        **work_order.event_data(),
    })


# --- cancel -----------------------------------------------------------------------------------

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
