"""Fee-reserve requests: staff record a main-account top-up or move sub-account → main account,
booked in the ledger when their work order is approved."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from approvals.models import FeeReserveRequest
from approvals.services.work_orders import work_order_cancel, work_order_open
from chains.models import Currency
from core.errors import DomainError
from core.transitions import locked, transition_apply
from ledger.services import ledger_transfer


def fee_reserve_request_create(*, tenant, currency: str, amount: Decimal | str, kind: str, actor,
                               note: str = "") -> FeeReserveRequest:
    """Staff ask to record a main-account top-up or move sub-account → main account; opens the
    work order (``atm.va.main_account_topup`` / ``atm.va.sub_to_main_transfer``)."""
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
    return locked(FeeReserveRequest, request_id, select_related=("tenant", "currency"))


def fee_reserve_request_book(*, request_id: int, actor) -> FeeReserveRequest:
    """The work order approved: book the ledger transfer (called by the handler)."""
    with transaction.atomic():
        request = _locked_request(request_id)
        request.decided_at, request.decided_by = timezone.now(), actor
        if not transition_apply(request, "approve", actor=actor, reason="Work order approved",
                                fields=("decided_at", "decided_by")):
            return request  # booked before
        ledger_transfer(tenant=request.tenant, currency=request.currency.code, amount=request.amount,
                        kind=request.kind, reference=request.reference)
    return request


def fee_reserve_request_close(*, request_id: int, actor, reason: str, transition: str = "reject"
                              ) -> FeeReserveRequest:
    """The work order was rejected (``reject``) or the request withdrawn (``cancel``)."""
    with transaction.atomic():
        request = _locked_request(request_id)
        request.reason, request.decided_at, request.decided_by = reason, timezone.now(), actor
        transition_apply(request, transition, actor=actor, reason=reason, fields=("reason", "decided_at", "decided_by"))
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
