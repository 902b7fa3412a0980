"""Approval flows: versions staff copy, edit and activate; a work order keeps the version it opened with."""

from __future__ import annotations

import logging

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from approvals.defaults import DEFAULT_FLOWS
from approvals.models import ApprovalFlow, ApprovalStep
from core.errors import DomainError

logger = logging.getLogger(__name__)


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


def approval_flow_active(type: str) -> ApprovalFlow:  # noqa: A002
    flow = ApprovalFlow.objects.filter(type=type, active=True).first()
    return flow or _default_flow(type)


def approval_flow_active_steps(type: str) -> tuple[ApprovalFlow, list[ApprovalStep]]:  # noqa: A002
    """The active flow of ``type`` and its steps in order (each with its group), in one query.
    Read every time, never cached: staff activate new versions while the console runs."""
    steps = list(ApprovalStep.objects.filter(flow__type=type, flow__active=True)
                 .select_related("flow", "group").order_by("position"))
    if steps:
        return steps[0].flow, steps
    flow = approval_flow_active(type)  # a flow without steps, or none yet (the default is created)
    return flow, list(flow.steps.select_related("group").order_by("position"))


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


def _steps_valid(flow: ApprovalFlow) -> None:
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


def approval_flow_activate(*, flow: ApprovalFlow, actor, reason: str = ""):
    """Ask for ``flow`` to become the version new work orders of its type follow.

    Activating a flow version loosens a control as soon as it may drop a step, so it goes
    through a second person: a work order ``atm.config.change`` (approvals.services.config_changes)
    whose approval activates it. Neither the requester nor the version's author may approve it.
    The steps are checked now (``validation_error``, nothing changes) and again on activation.
    Returns the waiting ``ConfigChange`` (None when the version is already active).
    """
    from approvals.services.config_changes import config_change_propose

    _steps_valid(flow)
    return config_change_propose(target=flow, changes={"active": True}, actor=actor,
                                 reason=reason or f"Activate {flow}.")


def approval_flow_activate_now(*, flow: ApprovalFlow) -> ApprovalFlow:
    """Switch the type's active version to ``flow`` (open work orders keep theirs). Called by the
    approved ``atm.config.change`` work order, and by setup code (tests, data migrations' helpers)
    that configures flows without a person."""
    with transaction.atomic():
        flows = list(ApprovalFlow.objects.select_for_update().filter(type=flow.type))
        flow = next(f for f in flows if f.pk == flow.pk)
        if flow.active:
            return flow
        _steps_valid(flow)
        ApprovalFlow.objects.filter(type=flow.type, active=True).update(active=False)
        flow.active = True
        flow.save(update_fields=["active"])
    logger.info("approval flow %s activated", flow)
    return flow
