"""The payment side of a trade: the seller's accounts buyers pay to, and the payer's name check.

SEAM (until branch ``fiat`` is merged): payment methods are the seller's own ACTIVE
``fiat.BankAccount`` rows (``fiat.selectors.bank_accounts_active_for``) and the payer's name is
compared with ``customers.Customer.legal_name``. This module is the one place that reads them.
"""

from __future__ import annotations

import re
import unicodedata

from core.errors import DomainError


def _name_key(name: str) -> str:
    """A name as compared: accents dropped, case folded, punctuation and spacing ignored, word
    order ignored ("CHAN Tai Man" = "Chan, Tai-Man" = "Tai Man Chan")."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = re.findall(r"\w+", text)
    return " ".join(sorted(words))


def kyc_name(customer) -> str:
    """The customer's KYC (legal) name. SEAM: ``Customer.legal_name`` comes with the fiat merge;
    until then the App user's full name stands in."""
    legal = getattr(customer, "legal_name", None)
    if legal is not None:
        return legal
    return customer.user.get_full_name()


def payer_name_check(*, buyer, payer_name: str) -> None:
    """The account the buyer paid from must be in the buyer's own KYC name."""
    if not (payer_name or "").strip():
        raise DomainError("validation_error", "Name the account holder you paid from.", field="payer_name")
    expected = kyc_name(buyer)
    if not expected or _name_key(payer_name) != _name_key(expected):
        raise DomainError("payer_name_mismatch", "The payer's name does not match your KYC name: pay from an "
                                                 "account in your own name.", field="payer_name")


def seller_payment_methods(*, seller, ids: list[int], fiat: str) -> list[dict]:
    """The seller's own active accounts among ``ids``, in the offer's fiat: ``[{"id", "label"}]``.
    SEAM: before the fiat merge, ids are taken as given (no bank accounts to check against)."""
    if not ids:
        raise DomainError("validation_error", "Name at least one of your bank accounts.", field="payment_method_ids")
    try:
        clean = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise DomainError("validation_error", "Payment methods are bank account ids.",
                          field="payment_method_ids") from None
    return [{"id": i, "label": f"Bank account #{i}"} for i in clean]


def payment_method_for_trade(*, offer, method_id: int | None) -> dict:
    """Which of the offer's accounts the buyer will pay to (the first when not named), re-checked
    as still the seller's and active."""
    methods = seller_payment_methods(seller=offer.seller, ids=offer.payment_method_ids, fiat=offer.fiat)
    if method_id is None:
        return methods[0]
    for method in methods:
        if method["id"] == int(method_id):
            return method
    raise DomainError("validation_error", "That account is not one of the offer's payment methods.",
                      field="payment_method_id")
