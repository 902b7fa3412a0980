"""Staff's way out of ``review_required``: a resolution proposed through a work order.

``withdrawal_resolution_open`` opens ``atm.va.withdraw_resolve`` on the order with the proposed
outcome (``failed``: release the hold; ``completed``) and the maker's reason. Its flow (two
approvals by distinct people, never the maker) decides; on approval the handler calls
``withdrawals.pipeline.review.withdrawal_resolve``, which checks the outcome against the chain.
"""

from __future__ import annotations

from django.db import transaction

from approvals.models import WorkOrder, WorkOrderType
from approvals.services.work_orders import work_order_open
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder
from withdrawals.services.moves import withdrawal_locked, withdrawal_note

OUTCOMES = ("failed", "completed")


def withdrawal_resolution_open(*, order: WithdrawalOrder | int, outcome: str, actor, reason: str) -> WorkOrder:
    """Open the order's resolution work order (the open one is returned if there is one)."""
    reason = (reason or "").strip()
    if outcome not in OUTCOMES:
        raise DomainError("validation_error", "The proposed outcome is failed or completed.", field="outcome")
    if not reason:
        raise DomainError("validation_error", "A resolution needs a reason.", field="reason")
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status != WithdrawalOrder.Status.REVIEW_REQUIRED:
            raise DomainError("invalid_transition", f"A {order.get_status_display().lower()} withdrawal "
                                                    f"needs no resolution.")
        work_order = work_order_open(type=WorkOrderType.WITHDRAW_RESOLVE, subject=order, maker=actor,
                                     context={"outcome": outcome, "reason": reason})
        withdrawal_note(order, actor=actor, reason=f"Resolution WO{work_order.pk} opened: "
                                                   f"{work_order.context.get('outcome')} ({reason})")
    return work_order
