"""Fiat withdrawals: request (held), work order ``atm.fiat.withdraw_apply``, approve / reject /
cancel, sent (payment file), completed / returned (bank statement). Postings (docs/FIAT.md):
request: available → held (amount + fee); sent: held → in transit (amount) + fee revenue (fee);
completed: in transit → client-money bank; returned: in transit → available less the bank's charge;
rejected / cancelled: held → available.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from approvals.models import WorkOrderType
from approvals.services.work_orders import work_order_cancel, work_order_open
from core.amounts import parse_amount
from core.customer_otp import customer_otp_verify
from core.errors import DomainError
from core.transitions import locked, transition_apply
from fiat.models import BankAccount, ChargeOption, FiatWithdrawal, FiatWithdrawalStatusChange
from fiat.services.common import idempotent, kyc_limit, setting
from ledger.fiat import ledger_fiat_return, ledger_fiat_send, ledger_fiat_settle
from ledger.services import ledger_hold, ledger_release
from ledger.types import HoldLine

Status = FiatWithdrawal.Status
WORK_ORDER_TYPE = WorkOrderType.FIAT_WITHDRAW_APPLY
DEFAULT_FEES = {"FPS": "5", "CHATS": "50", "SWIFT": "150"}
DEFAULT_OUR_SURCHARGE = "100"


def fiat_fee(*, rail: str, charge_option: str) -> Decimal:
    """Our fee for a rail (``FIAT_FEES``), plus ``FIAT_OUR_SURCHARGE`` when we bear the charges (OUR)."""
    fee = Decimal(str(setting("FIAT_FEES", DEFAULT_FEES).get(rail, "0")))
    if charge_option == ChargeOption.OUR:
        fee += Decimal(str(setting("FIAT_OUR_SURCHARGE", DEFAULT_OUR_SURCHARGE)))
    return fee


def _daily_total(customer, currency: str) -> Decimal:
    since = timezone.now() - timedelta(days=1)
    live = (Status.PENDING_APPROVAL, Status.APPROVED, Status.SENT, Status.COMPLETED)
    total = (FiatWithdrawal.objects.filter(customer=customer, currency=currency, created_at__gte=since,
                                           status__in=live).aggregate(t=Sum("amount")))["t"]
    return total or Decimal(0)


def _split(order: FiatWithdrawal) -> list[HoldLine]:
    return [HoldLine.from_dict(line) for line in order.split]


def fiat_withdrawal_request(*, customer, idempotency_key: str, bank_account_id, amount: str, otp: str,
                            charge_option: str = ChargeOption.SHA) -> tuple[FiatWithdrawal, bool]:
    """Accept an App fiat withdrawal: hold amount + fee, open the work order. Refusals change nothing."""
    body = {"bank_account_id": str(bank_account_id), "amount": str(amount), "charge_option": str(charge_option)}

    def create() -> FiatWithdrawal:
        if charge_option not in ChargeOption.values:
            raise DomainError("validation_error", "charge_option must be OUR or SHA.", field="charge_option")
        try:
            account_pk = int(bank_account_id)
        except (TypeError, ValueError):
            raise DomainError("validation_error", "bank_account_id must be an integer.", field="bank_account_id")
        if not BankAccount.objects.filter(pk=account_pk, customer=customer).exists():
            raise DomainError("not_found", "No such bank account.", field="bank_account_id")
        account = locked(BankAccount, account_pk)  # cannot be archived while the order is being created
        if not account.is_usable:
            raise DomainError("bank_account_not_active", "The bank account is not active yet (review or cool-down).",
                              field="bank_account_id")
        value = parse_amount(amount, max_decimals=2)
        minimum = Decimal(str(setting("FIAT_WITHDRAW_MIN", "100")))
        if value < minimum:
            raise DomainError("amount_below_minimum", f"The minimum is {minimum} {account.currency}.", field="amount")
        maximum = kyc_limit("FIAT_WITHDRAW_MAX", customer, account.currency)
        if value > maximum:
            raise DomainError("amount_above_maximum", f"The maximum at KYC level {customer.kyc_level} is {maximum} "
                                                      f"{account.currency}.", field="amount")
        if not customer.may_withdraw:
            raise DomainError("kyc_required", "KYC must be approved before withdrawing.")
        if customer.payouts_frozen_at(timezone.now()):
            raise DomainError("payout_frozen", "Withdrawals are paused after a security change.")
        customer_otp_verify(customer=customer, code=otp)
        daily = kyc_limit("FIAT_WITHDRAW_DAILY_LIMITS", customer, account.currency)
        if _daily_total(customer, account.currency) + value > daily:
            raise DomainError("daily_limit_exceeded", f"Fiat withdrawals are limited to {daily} {account.currency} "
                                                      "a day.", field="amount")
        fee = fiat_fee(rail=account.rail, charge_option=charge_option)
        order = FiatWithdrawal.objects.create(
            customer=customer, bank_account=account, currency=account.currency, amount=value, fee=fee,
            charge_option=charge_option, end_to_end_id=f"FW{secrets.token_hex(8).upper()}",
            originator={"name": customer.legal_name, "country": customer.country, "customer": customer.reference,
                        "tenant": customer.tenant.name},
            beneficiary={"name": account.holder_name, "rail": account.rail, "bic": account.bic,
                         "bank_code": account.bank_code, "iban": account.iban,
                         "account_number": account.account_number, "fps_id": account.fps_id,
                         "bank_country": account.bank_country})
        split = ledger_hold(customer=customer, currency=order.currency, amount=value + fee,
                            reference=f"fiat-withdrawal:{order.pk}:hold")
        order.split = [line.as_dict() for line in split]
        order.save(update_fields=["split"])
        FiatWithdrawalStatusChange.objects.create(withdrawal=order, from_status="", to_status=order.status,
                                                  actor=customer.user, reason="Requested in the App")
        work_order_open(type=WORK_ORDER_TYPE, subject=order, maker=customer.user)
        return order

    return idempotent(customer=customer, scope="fiat_withdrawal", key=idempotency_key, body=body, create=create,
                      load=lambda pk: FiatWithdrawal.objects.get(pk=pk))


def _release(order: FiatWithdrawal, why: str) -> None:
    ledger_release(customer=order.customer, currency=order.currency, split=_split(order),
                   reference=f"fiat-withdrawal:{order.pk}:release")


def fiat_withdrawal_approve(*, order, actor, reason: str = "") -> FiatWithdrawal:
    with transaction.atomic():
        order = locked(FiatWithdrawal, getattr(order, "pk", order))
        transition_apply(order, "approve", actor=actor, reason=reason or "Work order approved")
    return order


def fiat_withdrawal_reject(*, order, actor, reason: str) -> FiatWithdrawal:
    with transaction.atomic():
        order = locked(FiatWithdrawal, getattr(order, "pk", order), select_related=("customer",))
        if transition_apply(order, "reject", actor=actor, reason=reason or "Rejected"):
            _release(order, "reject")
    return order


def fiat_withdrawal_cancel(*, order: FiatWithdrawal, actor) -> FiatWithdrawal:
    """The customer cancels while the order waits for approval (else ``not_cancellable``)."""
    with transaction.atomic():
        if FiatWithdrawal.objects.filter(pk=order.pk, status=Status.PENDING_APPROVAL).exists():
            work_order_cancel(subject=order, actor=actor, reason="Cancelled by the customer")
        order = locked(FiatWithdrawal, order.pk, select_related=("customer",))
        if order.status == Status.CANCELLED:
            return order
        if order.status != Status.PENDING_APPROVAL:
            raise DomainError("not_cancellable", "The withdrawal can no longer be cancelled.")
        transition_apply(order, "cancel", actor=actor, reason="Cancelled by the customer")
        _release(order, "cancel")
    return order


def fiat_withdrawal_mark_sent(*, order: FiatWithdrawal, batch, actor) -> None:
    """In a payment file: held → in transit, fee → revenue (inside the export's transaction)."""
    order.batch = batch
    order.sent_at = timezone.now()
    transition_apply(order, "send", actor=actor, reason=f"In payment file {batch.message_id}",
                     fields=("batch", "sent_at"))
    ledger_fiat_send(customer=order.customer, currency=order.currency, split=_split(order), fee=order.fee,
                     reference=f"fiat-withdrawal:{order.pk}:send")


def fiat_withdrawal_complete(*, order: FiatWithdrawal, actor, bank_reference: str, reason: str) -> None:
    order.bank_reference = bank_reference[:100]
    transition_apply(order, "complete", actor=actor, reason=reason, fields=("bank_reference",))
    ledger_fiat_settle(customer=order.customer, currency=order.currency, amount=order.amount,
                       reference=f"fiat-withdrawal:{order.pk}:settle")


def fiat_withdrawal_return(*, order: FiatWithdrawal, actor, reason_code: str, charge: Decimal,
                           bank_reference: str, reason: str) -> None:
    order.return_reason = reason_code[:8]
    order.return_charge = charge
    order.bank_reference = bank_reference[:100]
    transition_apply(order, "mark_returned", actor=actor, reason=reason,
                     fields=("return_reason", "return_charge", "bank_reference"))
    ledger_fiat_return(customer=order.customer, currency=order.currency, amount=order.amount, charge=charge,
                       reference=f"fiat-withdrawal:{order.pk}:return")


def business_days_between(start, end) -> int:
    """Weekdays from ``start``'s date (exclusive) to ``end``'s date (inclusive)."""
    day, count = start.date(), 0
    while day < end.date():
        day += timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    return count


def fiat_withdrawals_flag_overdue(*, now=None) -> int:
    """Flag orders ``sent`` longer than ``FIAT_SENT_OVERDUE_BUSINESS_DAYS`` (default 5) without a
    statement match (``overdue_flagged_at``; the admin lists them). Returns how many were flagged."""
    now = now or timezone.now()
    days = int(setting("FIAT_SENT_OVERDUE_BUSINESS_DAYS", 5))
    flagged = 0
    for order in FiatWithdrawal.objects.filter(status=Status.SENT, overdue_flagged_at__isnull=True):
        if business_days_between(order.sent_at, now) > days:
            flagged += FiatWithdrawal.objects.filter(pk=order.pk, overdue_flagged_at__isnull=True).update(
                overdue_flagged_at=now)
    return flagged
