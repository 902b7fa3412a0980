"""What every move of a withdrawal shares: the locked row with what the moves need, the history
note that keeps the status, and the hold's split. The moves themselves follow the one recipe of
``core.transitions`` (lock, check the declared move, save, audit row, log)."""

from __future__ import annotations

from core.transitions import locked
from ledger.services import HoldLine
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange

ORDER_JOINS = ("coin__currency", "coin__network", "coin__fee_currency", "customer__tenant")


def withdrawal_locked(order: WithdrawalOrder | int, *, skip_locked: bool = False) -> WithdrawalOrder | None:
    """The order row, locked for the rest of the transaction, with what the moves need. With
    ``skip_locked`` an order another worker holds is None (the caller leaves it to that worker)."""
    order_id = order.pk if isinstance(order, WithdrawalOrder) else order
    return locked(WithdrawalOrder, order_id, select_related=ORDER_JOINS, skip_locked=skip_locked)


def withdrawal_locked_all(order_ids) -> list[WithdrawalOrder]:
    """The order rows, locked in ascending id order (so two callers never wait on each other in a
    circle) for the rest of the transaction, with what the moves need. Missing ids are left out."""
    return list(WithdrawalOrder.objects.select_for_update(of=("self",)).select_related(*ORDER_JOINS)
                .filter(pk__in=list(order_ids)).order_by("id"))


def withdrawal_note(order: WithdrawalOrder, *, actor, reason: str) -> WithdrawalStatusChange:
    """A history row that keeps the status (a new candidate, a fee bump): shown with the moves."""
    return WithdrawalStatusChange.objects.create(order=order, from_status=order.status, to_status=order.status,
                                                 actor=actor, reason=reason)


def withdrawal_held_split(order: WithdrawalOrder) -> list[HoldLine]:
    """The instruments held at request time, reused for release and settlement."""
    return [HoldLine.from_dict(line) for line in order.split]
