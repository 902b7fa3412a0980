"""Customer deposits booked by staff (``atm.va.deposit_book``): one person records the deposit
and what the customer paid for it, another approves it, and only then is it posted to the
ledger (``ledger_deposit``, the cost in the entry's request for the tax records)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from approvals.models import DepositBooking, PriceQuote, WorkOrderType
from approvals.services.work_orders import work_order_cancel, work_order_open
from chains.models import Currency
from core.errors import DomainError
from core.transitions import locked, transition_apply
from ledger.services import ledger_deposit


def _decimal(value, field: str, *, zero_ok: bool = False) -> Decimal:
    try:
        value = Decimal(str(value))
    except InvalidOperation:
        raise DomainError("invalid_amount", field=field)
    if not value.is_finite() or value < 0 or (value == 0 and not zero_ok):
        raise DomainError("amount_not_positive", field=field)
    return value


def deposit_booking_create(*, customer, currency: str, quote: str, amount, actor, cost=None, cost_fiat: str = "",
                           note: str = "") -> DepositBooking:
    """Staff record a customer's deposit (and its cost, when known); opens the work order."""
    if not (actor and actor.is_active and actor.is_staff):
        raise DomainError("permission_denied", "Only staff book deposits.")
    amount = _decimal(amount, "amount")
    code = getattr(currency, "code", currency)
    currency_row = Currency.objects.filter(code=code).first()
    if currency_row is None:
        raise DomainError("validation_error", f"Unknown currency {code!r}.", field="currency")
    if -amount.as_tuple().exponent > currency_row.decimals:
        raise DomainError("amount_precision", f"{code} has {currency_row.decimals} decimals.", field="amount")
    quote = (quote or "").upper()
    if quote not in (customer.tenant.quote_currencies or []):
        raise DomainError("validation_error", "The quote must be one of the tenant's quote currencies.", field="quote")
    if cost in (None, ""):
        cost, cost_fiat = None, ""
    else:
        cost = _decimal(cost, "cost", zero_ok=True).quantize(Decimal("0.01"))
        cost_fiat = (cost_fiat or "").upper()
        if cost_fiat not in PriceQuote.Quote.values:
            raise DomainError("validation_error", "A cost needs its fiat (USD or HKD).", field="cost_fiat")
    with transaction.atomic():
        booking = DepositBooking.objects.create(customer=customer, currency=currency_row, quote=quote, amount=amount,
                                                cost=cost, cost_fiat=cost_fiat, note=(note or "").strip(),
                                                requested_by=actor)
        work_order_open(type=WorkOrderType.DEPOSIT_BOOK, subject=booking, maker=actor)
    return booking


def _locked_booking(booking_id: int) -> DepositBooking:
    return locked(DepositBooking, booking_id, select_related=("customer", "currency"))


def deposit_booking_book(*, booking_id: int, actor) -> DepositBooking:
    """The work order approved: post the deposit (called by the handler, in its transaction)."""
    with transaction.atomic():
        booking = _locked_booking(booking_id)
        booking.decided_at, booking.decided_by = timezone.now(), actor
        if not transition_apply(booking, "book", actor=actor, reason="Work order approved",
                                fields=("decided_at", "decided_by")):
            return booking
        ledger_deposit(customer=booking.customer, currency=booking.currency.code, quote=booking.quote,
                       amount=booking.amount, reference=booking.reference, memo=booking.note,
                       cost=booking.cost, cost_fiat=booking.cost_fiat)
    return booking


def deposit_booking_close(*, booking_id: int, actor, reason: str, transition: str = "reject") -> DepositBooking:
    """The work order was rejected (``reject``) or the booking withdrawn (``cancel``)."""
    with transaction.atomic():
        booking = _locked_booking(booking_id)
        booking.reason, booking.decided_at, booking.decided_by = reason, timezone.now(), actor
        transition_apply(booking, transition, actor=actor, reason=reason, fields=("reason", "decided_at", "decided_by"))
    return booking


def deposit_booking_cancel(*, booking: DepositBooking, actor, reason: str) -> DepositBooking:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "A reason is required.", field="reason")
    with transaction.atomic():
        booking = deposit_booking_close(booking_id=booking.pk, actor=actor, reason=reason, transition="cancel")
        work_order_cancel(subject=booking, actor=actor, reason=reason)
    return booking
