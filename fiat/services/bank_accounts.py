"""Writes to customers' bank accounts: register, review (work order), archive.

A bank account's holder must be the customer: the holder name is compared with the KYC legal
name (``customers.names``); a different name is refused (``name_mismatch``), a close one is
registered with ``name_match = close`` and shown to the checker. Every new account starts
``pending_review`` and opens an ``atm.fiat.bank_account_verify`` work order (maker: the
customer, so any staff member may check it); approval makes it ``active`` and usable after
``settings.BANK_ACCOUNT_COOLDOWN`` (the same cool-down idea as addresses).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.models import WorkOrderType
from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_cancel, work_order_decide, work_order_open
from core.errors import DomainError
from core.transitions import locked, transition_apply
from customers.names import CLOSE, MISMATCH, name_match, name_normalize
from fiat.bank_details import bank_details_check
from fiat.models import BankAccount, BankAccountStatusChange

Status = BankAccount.Status
WORK_ORDER_TYPE = WorkOrderType.BANK_ACCOUNT_VERIFY
HOLDER_MAX = 140


def bank_account_register(*, customer, holder_name: str, currency: str, rail: str, iban: str = "",
                          account_number: str = "", bank_code: str = "", bic: str = "", fps_id: str = "",
                          label: str = "") -> BankAccount:
    """Register a bank account of ``customer``; it starts ``pending_review`` with its work order open.

    Refusals (nothing stored): ``invalid_iban``, ``invalid_bic``, ``invalid_bank_code``,
    ``currency_not_on_rail``, ``name_mismatch``, ``kyc_required`` (no KYC legal name yet),
    ``duplicate_bank_account``, ``validation_error``.
    """
    holder_name = " ".join(str(holder_name or "").split())
    if not holder_name or len(holder_name) > HOLDER_MAX:
        raise DomainError("validation_error", f"The holder name is required (at most {HOLDER_MAX} characters).",
                          field="holder_name")
    label = str(label or "").strip()
    if len(label) > 100:
        raise DomainError("validation_error", "At most 100 characters.", field="label")
    details = bank_details_check(rail=rail, currency=currency, iban=iban, account_number=account_number,
                                 bank_code=bank_code, bic=bic, fps_id=fps_id)
    if not customer.legal_name:
        raise DomainError("kyc_required", "Your KYC legal name is not on file yet; bank accounts wait for it.")
    match = name_match(customer.legal_name, holder_name)
    if match == MISMATCH:
        raise DomainError("name_mismatch", "The account holder must be you: the name differs from your KYC name.",
                          field="holder_name")
    duplicate = DomainError("duplicate_bank_account", "You already have this bank account.", field="account_number")
    with transaction.atomic():
        try:
            with transaction.atomic():  # the partial unique constraint settles a race of two requests
                account = BankAccount.objects.create(
                    customer=customer, holder_name=holder_name, holder_name_normalized=name_normalize(holder_name),
                    name_match=match, currency=details.currency, rail=details.rail, iban=details.iban,
                    account_number=details.account_number, bank_code=details.bank_code, bic=details.bic,
                    fps_id=details.fps_id, bank_country=details.bank_country, label=label)
        except IntegrityError:
            raise duplicate
        BankAccountStatusChange.objects.create(bank_account=account, from_status="", to_status=account.status,
                                               actor=customer.user, reason="Registered by the customer.")
        work_order_open(type=WORK_ORDER_TYPE, subject=account, maker=customer.user, context={
            "name_match": match, "close_name_match": match == CLOSE})
    return account


def _open_review(account: BankAccount):
    work_order = work_order_for_subject(account, type=WORK_ORDER_TYPE)
    return work_order if work_order is not None and work_order.status == "open" else None


def bank_account_activate(*, bank_account: BankAccount | int, actor, reason: str = "") -> BankAccount:
    """Called by the approvals engine on the last approval of the review: active, usable after the cool-down."""
    pk = getattr(bank_account, "pk", bank_account)
    with transaction.atomic():
        account = locked(BankAccount, pk)
        if account.status == Status.ACTIVE:
            return account
        now = timezone.now()
        account.verified_at = now
        account.usable_from = now + settings.BANK_ACCOUNT_COOLDOWN
        transition_apply(account, "activate", actor=actor, reason=reason or "Review approved.",
                         fields=("verified_at", "usable_from"))
    return account


def bank_account_reject(*, bank_account: BankAccount | int, actor, reason: str) -> BankAccount:
    """Called by the approvals engine when the review is rejected; the row stays as history."""
    pk = getattr(bank_account, "pk", bank_account)
    reason = (reason or "").strip() or "Review rejected."
    with transaction.atomic():
        account = locked(BankAccount, pk)
        if account.status == Status.REJECTED:
            return account
        account.reason = reason
        transition_apply(account, "reject", actor=actor, reason=reason, fields=("reason",))
    return account


def bank_account_review_decide(*, bank_account: BankAccount, actor, approve: bool, reason: str = "") -> BankAccount:
    """A staff decision from the admin's review queue, through the work order (maker ≠ checker,
    the flow's group): nobody activates a bank account outside it."""
    work_order = _open_review(bank_account)
    if work_order is None:
        raise DomainError("invalid_transition", "The bank account has no open review work order to decide.")
    work_order_decide(work_order=work_order, actor=actor, decision="approve" if approve else "reject",
                      comment=reason)
    bank_account.refresh_from_db()
    return bank_account


def bank_account_archive(*, bank_account: BankAccount, actor, reason: str = "") -> BankAccount:
    """Take the account out of use (the App's DELETE, or staff); pending fiat withdrawals keep theirs."""
    reason = (reason or "").strip() or "Removed by the customer."
    with transaction.atomic():
        if _open_review(bank_account) is not None:
            work_order_cancel(subject=bank_account, actor=actor, reason=f"Bank account archived: {reason}")
        account = locked(BankAccount, bank_account.pk)
        if account.status == Status.ARCHIVED:
            return account
        account.reason = reason
        transition_apply(account, "archive", actor=actor, reason=reason, fields=("reason",))
    return account
