"""The payment side of a trade: the seller's accounts buyers pay to, and the payer's name check.

Payment methods are the seller's own ACTIVE bank accounts (``fiat.BankAccount``, past their
cool-down, in the offer's fiat). ``fiat`` sits on this floor too, so this app does not import it:
the site (``withdrawals_site.apps``, the floor above both) installs ``fiat.selectors.
bank_accounts_active_for`` here with ``bank_accounts_source_set`` at start-up. Without it every
payment method is refused (fail closed). The payer's name is compared with the buyer's KYC legal
name by ``customers.names.name_match`` (the fiat app's comparison): only an exact match passes.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import DomainError
from customers.names import EXACT, name_match

_active_accounts: Callable | None = None  # (customer=, currency=) -> QuerySet[fiat.BankAccount]


def bank_accounts_source_set(source: Callable) -> None:
    global _active_accounts
    _active_accounts = source


def _source() -> Callable:
    if _active_accounts is None:
        raise DomainError("bank_account_not_active", "Bank accounts cannot be read (no source installed).",
                          field="payment_method_ids")
    return _active_accounts


def payer_name_check(*, buyer, payer_name: str) -> None:
    """The account the buyer paid from must be in the buyer's own KYC name (third-party payments
    are how stolen funds get laundered through P2P)."""
    if not (payer_name or "").strip():
        raise DomainError("validation_error", "Name the account holder you paid from.", field="payer_name")
    if not buyer.legal_name:
        raise DomainError("kyc_required", "Your KYC legal name is not on file yet.")
    if name_match(buyer.legal_name, payer_name) != EXACT:
        raise DomainError("payer_name_mismatch", "The payer's name does not match your KYC name: pay from an "
                                                 "account in your own name.", field="payer_name")


def seller_payment_methods(*, seller, ids, fiat: str) -> list:
    """The seller's own active accounts in ``fiat`` among ``ids`` (all of them, or refused)."""
    if not ids:
        raise DomainError("validation_error", "Name at least one of your bank accounts.", field="payment_method_ids")
    try:
        wanted = {int(i) for i in ids}
    except (TypeError, ValueError):
        raise DomainError("validation_error", "Payment methods are bank account ids.",
                          field="payment_method_ids") from None
    accounts = list(_source()(customer=seller, currency=fiat).filter(pk__in=wanted))
    if len(accounts) != len(wanted):
        raise DomainError("bank_account_not_active", f"Payment methods must be your own active {fiat} bank "
                                                     "accounts.", field="payment_method_ids")
    return sorted(accounts, key=lambda a: a.pk)


def payment_method_for_trade(*, offer, method_id: int | None):
    """Which of the offer's accounts the buyer will pay to (the first when not named), re-checked
    now as still the seller's, active and in the offer's fiat."""
    offered = [a.pk for a in offer.payment_methods.all()]
    if method_id is not None:
        try:
            method_id = int(method_id)
        except (TypeError, ValueError):
            method_id = None
        if method_id not in offered:
            raise DomainError("validation_error", "That account is not one of the offer's payment methods.",
                              field="payment_method_id")
        offered = [method_id]
    live = _source()(customer=offer.seller, currency=offer.fiat).filter(pk__in=offered).order_by("pk").first()
    if live is None:
        raise DomainError("offer_unavailable", "The seller's payment account is no longer active.",
                          field="payment_method_id")
    return live


def payment_method_label(account) -> str:
    """The seller's account as a buyer sees it: rail, currency, masked number, holder."""
    return f"{account.rail} {account.currency} {account.masked_number} ({account.holder_name})"
