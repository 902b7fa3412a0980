"""Which configuration changes loosen a control (docs/APPROVALS.md, "atm.config.change").

Pure rules, no side effects: ``loosening_reason(target, field, old, new)`` says why a change of
one field loosens a control (None: it tightens, or changes no control, and applies at once).
Fields are named by their attribute (``network_id`` for a foreign key). A model missing from
``RULES`` is not routed through the second person at all.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from approvals.prices import price_max_age

Rule = Callable[[object, object, object], str | None]

LEVEL_ORDER = ("low", "medium", "high", "severe")


def _lower(what: str) -> Rule:
    return lambda obj, old, new: f"lowers {what}" if old is not None and new is not None and new < old else None


def _higher(what: str) -> Rule:
    return lambda obj, old, new: f"raises {what}" if old is not None and new is not None and new > old else None


def _changed(what: str) -> Rule:
    return lambda obj, old, new: f"changes {what}" if old != new else None


def _fee_cap(obj, old: Decimal | None, new: Decimal | None) -> str | None:
    """Empty means no cap: removing a cap or raising it loosens; setting a first cap tightens."""
    if old is None:
        return None
    if new is None:
        return "removes the network fee cap"
    return "raises the network fee cap" if new > old else None


def _price(obj, old: Decimal, new: Decimal) -> str | None:
    """A lower price makes values smaller, so value-based steps and the travel rule apply less. A
    quote too old to be used counts as no price (every value step applies); any new price for it
    makes the value known again, which loosens too."""
    if new < old:
        return "lowers a price used in value thresholds"
    if obj.updated_at is not None and obj.updated_at < timezone.now() - price_max_age():
        return "revives a stale price (the value was unknown, so value steps applied)"
    return None


def _risk_level(obj, old: str, new: str) -> str | None:
    if old in LEVEL_ORDER and new in LEVEL_ORDER and LEVEL_ORDER.index(new) < LEVEL_ORDER.index(old):
        return "lowers the risk level"
    return None


def _turned_off(what: str) -> Rule:
    return lambda obj, old, new: what if old and not new else None


def _turned_on(what: str) -> Rule:
    return lambda obj, old, new: what if new and not old else None


def _kyc_status(obj, old: str, new: str) -> str | None:
    return "approves the customer's KYC (withdrawals open)" if new == "approved" and old != "approved" else None


# model label -> field attribute -> rule
RULES: dict[str, dict[str, Rule]] = {
    "chains.coin": {
        "min_amount": _lower("the minimum amount"),
        "max_amount": _higher("the maximum amount"),
        "daily_limit": _higher("the daily limit"),
        "confirmations": _lower("the confirmation depth"),
        "contract_address": _changed("the token contract"),
        "fee_cap": _fee_cap,
    },
    "chains.network": {
        "confirmations": _lower("the network's confirmation depth"),
    },
    "approvals.pricequote": {
        "price": _price,
    },
    "approvals.risklistentry": {
        "active": _turned_off("deactivates a risk-list entry"),
        "level": _risk_level,
        "category": _changed("the category of a listed address"),
        "address": _changed("the listed address (the old one stops matching)"),
        "network_id": _changed("the network of a listed address"),
    },
    "customers.customer": {
        "kyc_level": _higher("the KYC level (higher daily limits)"),
        "kyc_status": _kyc_status,
    },
    "approvals.approvalflow": {
        "active": _turned_on("activates an approval flow version"),
    },
}


def is_config_model(model) -> bool:
    return model._meta.label_lower in RULES


def loosening_reason(target, field: str, old, new) -> str | None:
    """Why changing ``field`` of ``target`` from ``old`` to ``new`` loosens a control, or None."""
    rule = RULES.get(target._meta.label_lower, {}).get(field)
    return None if rule is None else rule(target, old, new)
