"""The recipe every move of a withdrawal follows (STYLE.md): lock the row, check the move against
the FSM declared on the model, save, write the audit row, log it once. The services in
``orders`` and ``sending`` call these inside their own transaction."""

from __future__ import annotations

import logging

from django_fsm import can_proceed

from core.errors import DomainError
from ledger.services import HoldLine
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange

logger = logging.getLogger(__name__)


def withdrawal_locked(order: WithdrawalOrder | int) -> WithdrawalOrder:
    """The order row, locked for the rest of the transaction, with what the moves need."""
    order_id = order.pk if isinstance(order, WithdrawalOrder) else order
    return (WithdrawalOrder.objects.select_for_update(of=("self",))
            .select_related("coin__currency", "coin__network", "coin__fee_currency", "customer__tenant")
            .get(pk=order_id))


def withdrawal_apply_move(order: WithdrawalOrder, transition: str, *, actor, reason: str,
                          fields: tuple[str, ...] = ()) -> None:
    """Apply a declared transition to a locked order, save it and write the audit row."""
    method = getattr(order, transition)
    if not can_proceed(method):
        raise DomainError("invalid_transition",
                          f"A {order.get_status_display().lower()} withdrawal cannot {transition.replace('_', ' ')}.")
    from_status = order.status
    method()
    order.save(update_fields=("status", "updated_at", *fields))
    WithdrawalStatusChange.objects.create(order=order, from_status=from_status, to_status=order.status,
                                          actor=actor, reason=reason)
    logger.info("withdrawal %s: %s -> %s by %s: %s", order.pk, from_status, order.status,
                actor.get_username() if actor else "system", reason)


def withdrawal_held_split(order: WithdrawalOrder) -> list[HoldLine]:
    """The instruments held at request time, reused for release and settlement."""
    return [HoldLine.from_dict(line) for line in order.split]
