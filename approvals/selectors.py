"""Reads of work orders for the admin (queue, work-order page, the panel on subject pages)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone

from approvals.handlers import get_handler
from approvals.models import WorkOrder, WorkOrderDecision, WorkOrderStep
from approvals.rules import decide_refusal


def work_order_list() -> QuerySet[WorkOrder]:
    return WorkOrder.objects.select_related("maker", "flow", "content_type")


def work_order_queue(*, user) -> QuerySet[WorkOrder]:
    """Open work orders whose current step waits for one of ``user``'s groups, that ``user``
    neither made nor already decided."""
    if not (user and user.is_active and user.is_staff):
        return WorkOrder.objects.none()
    return (work_order_list()
            .filter(status=WorkOrder.Status.OPEN, steps__state=WorkOrderStep.State.CURRENT,
                    steps__group__in=user.groups.all())
            .exclude(maker=user)
            .exclude(decisions__actor=user)
            .order_by("created_at", "id"))


def work_order_for_subject(subject, *, type: str | None = None) -> WorkOrder | None:  # noqa: A002
    """The subject's open work order, else its latest one (None when it never had one)."""
    content_type = ContentType.objects.get_for_model(subject)
    qs = WorkOrder.objects.filter(content_type=content_type, object_id=subject.pk)
    if type:
        qs = qs.filter(type=type)
    return qs.filter(status=WorkOrder.Status.OPEN).first() or qs.order_by("-created_at", "-id").first()


def work_order_detail(*, pk: int) -> WorkOrder:
    return (work_order_list()
            .prefetch_related(
                Prefetch("steps", queryset=WorkOrderStep.objects.select_related("group").order_by("position")),
                Prefetch("decisions", queryset=WorkOrderDecision.objects.select_related("actor", "step")),
                "events__actor")
            .get(pk=pk))


def approval_panel_context(work_order: WorkOrder | None, user, *, next_url: str = "") -> dict:
    """Everything ``admin/approvals/_panel.html`` draws: the steps (done/current/skipped/pending)
    with who decided what and when, screening, travel-rule status, and the Approve / Reject
    buttons when ``user`` may decide now (the service checks again on submit).

    Usage on another admin page (e.g. the withdrawal's change view)::

        extra_context["approval_panel"] = approval_panel_context(
            work_order_for_subject(order), request.user, next_url=request.get_full_path())

        {% include "admin/approvals/_panel.html" with panel=approval_panel %}
    """
    if work_order is None:
        return {"work_order": None}
    work_order = work_order_detail(pk=work_order.pk)
    steps = list(work_order.steps.all())
    decisions = list(work_order.decisions.all())
    by_step: dict[int, list[WorkOrderDecision]] = {}
    for decision in decisions:
        by_step.setdefault(decision.step_id, []).append(decision)
    current = next((s for s in steps if s.position == work_order.current_position), None)
    rows = []
    for step in steps:
        step_decisions = by_step.get(step.pk, [])
        rows.append({
            "step": step,
            "decisions": step_decisions,
            "approvals": sum(1 for d in step_decisions if d.decision == WorkOrderDecision.Decision.APPROVE),
        })
    refusal = decide_refusal(work_order, current, user) if current is not None else None
    handler = get_handler(work_order.type)
    gate_errors = handler.gate_errors(work_order) if work_order.status == WorkOrder.Status.OPEN else []
    travel_rule = handler.gate_panel(work_order, user, gate_errors)
    return {
        "work_order": work_order,
        "steps": rows,
        "current": current,
        "can_decide": work_order.status == WorkOrder.Status.OPEN and current is not None and refusal is None,
        "why_not": refusal.detail if refusal is not None else "",
        "decide_url": reverse("admin:approvals_workorder_decide", args=[work_order.pk]),
        "change_url": reverse("admin:approvals_workorder_change", args=[work_order.pk]),
        "next_url": next_url,
        "screening": work_order.screening,
        "travel_rule": travel_rule,
        "gate_errors": gate_errors,
        "age": timezone.now() - work_order.created_at,
    }


def approval_panel(work_order, user, *, next_url: str = "") -> dict:
    """approval_panel_context plus ``approve_blocked``: the user's approval would close the flow
    and a gate (e.g. missing travel-rule data) refuses it, so the Approve button is disabled with
    the reason instead of answering with an error after the click (the service checks anyway)."""
    panel = approval_panel_context(work_order, user, next_url=next_url)
    current = panel.get("current")
    panel["approve_blocked"] = False
    if current is not None and panel.get("gate_errors"):
        row = next((r for r in panel["steps"] if r["step"].pk == current.pk), None)
        completes_step = row is not None and row["approvals"] + 1 >= current.approvals_required
        later = any(r["step"].position > current.position and r["step"].state == "pending" for r in panel["steps"])
        panel["approve_blocked"] = completes_step and not later
    return panel
