"""Travel-rule data of a withdrawal: an IVMS101 subset, normalized and validated.

Canonical form (what ``WithdrawalOrder.travel_rule`` holds once validated)::

    {
      "originator": {"name": "Chan Tai Man", "account": "C000123"},
      "beneficiary": {"name": "Chan Tai Man", "address": "0xabc..."},
      "beneficiary_vasp": {"name": "Example Exchange Ltd"} | null,
      "self_hosted": false
    }

Exactly one of ``beneficiary_vasp.name`` (the receiving VASP) or ``self_hosted: true`` (the
customer declares the destination is their own unhosted wallet).
"""

from __future__ import annotations

from django.db import transaction

from approvals.models import WorkOrderEvent
from approvals.services.work_orders import work_orders_note
from chains.models import Network
from core.errors import DomainError
from withdrawals.models import TravelRuleRecord, WithdrawalOrder

NAME_MAX = 140
ACCOUNT_MAX = 128


def _text(data: dict, section: str, key: str, max_length: int, *, required: bool = True) -> str:
    part = data.get(section)
    value = part.get(key) if isinstance(part, dict) else None
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError("validation_error", f"{section}.{key} must be text.", field=f"travel_rule.{section}.{key}")
    value = " ".join(value.split())
    if required and not value:
        raise DomainError("validation_error", f"{section}.{key} is required.", field=f"travel_rule.{section}.{key}")
    if len(value) > max_length:
        raise DomainError("validation_error", f"{section}.{key} is longer than {max_length} characters.",
                          field=f"travel_rule.{section}.{key}")
    return value


def travel_rule_validate(data) -> dict:
    """Normalize and validate the IVMS101 subset; raise ``validation_error`` naming the field."""
    if not isinstance(data, dict):
        raise DomainError("validation_error", "Travel-rule data must be an object.", field="travel_rule")
    self_hosted = data.get("self_hosted", False)
    if not isinstance(self_hosted, bool):
        raise DomainError("validation_error", "self_hosted must be true or false.", field="travel_rule.self_hosted")
    result = {
        "originator": {
            "name": _text(data, "originator", "name", NAME_MAX),
            "account": _text(data, "originator", "account", ACCOUNT_MAX),
        },
        "beneficiary": {
            "name": _text(data, "beneficiary", "name", NAME_MAX),
            "address": _text(data, "beneficiary", "address", ACCOUNT_MAX),
        },
    }
    vasp_name = _text(data, "beneficiary_vasp", "name", NAME_MAX, required=False)
    if self_hosted and vasp_name:
        raise DomainError("validation_error", "Name the beneficiary VASP or declare a self-hosted wallet, not both.",
                          field="travel_rule.beneficiary_vasp.name")
    if not self_hosted and not vasp_name:
        raise DomainError("validation_error", "Name the beneficiary VASP, or declare a self-hosted wallet.",
                          field="travel_rule.beneficiary_vasp.name")
    result["beneficiary_vasp"] = {"name": vasp_name} if vasp_name else None
    result["self_hosted"] = self_hosted
    return result


def same_address(a: str, b: str, *, case_insensitive: bool) -> bool:
    a, b = (a or "").strip(), (b or "").strip()
    return a.lower() == b.lower() if case_insensitive else a == b


def travel_rule_problems(order) -> list[str]:
    """Why the order's travel-rule data does not (yet) satisfy the rule; empty when it does."""
    if not order.travel_rule:
        return ["Travel-rule data (originator and beneficiary) is missing."]
    try:
        data = travel_rule_validate(order.travel_rule)
    except DomainError as exc:
        return [f"Travel-rule data is incomplete: {exc.detail}"]
    evm = order.coin.network.kind == Network.Kind.EVM
    if not same_address(data["beneficiary"]["address"], order.destination, case_insensitive=evm):
        return ["The beneficiary address in the travel-rule data is not the withdrawal's destination."]
    return []


def withdrawal_travel_rule_set(*, order, data: dict, actor):
    """Staff capture a withdrawal's travel-rule data (writes only ``travel_rule``), audited."""
    if not (actor and actor.is_active and actor.is_staff and actor.has_perm("approvals.capture_travel_rule")):
        raise DomainError("permission_denied", "You may not capture travel-rule data.")
    normalized = travel_rule_validate(data)
    pk = order.pk if isinstance(order, WithdrawalOrder) else order
    with transaction.atomic():
        order = (WithdrawalOrder.objects.select_for_update(of=("self",))
                 .select_related("coin__network").get(pk=pk))
        if order.status in WithdrawalOrder.TERMINAL:
            raise DomainError("invalid_transition",
                              f"A {order.get_status_display().lower()} withdrawal's travel-rule data is final.")
        evm = order.coin.network.kind == Network.Kind.EVM
        if not same_address(normalized["beneficiary"]["address"], order.destination, case_insensitive=evm):
            raise DomainError("validation_error", "The beneficiary address must be the withdrawal's destination.",
                              field="travel_rule.beneficiary.address")
        if order.travel_rule == normalized:
            return order
        previous = order.travel_rule
        WithdrawalOrder.objects.filter(pk=order.pk).update(travel_rule=normalized)
        TravelRuleRecord.objects.create(order=order, actor=actor, previous=previous, data=normalized)
        work_orders_note(subject=order, kind=WorkOrderEvent.Kind.TRAVEL_RULE, actor=actor,
                         reason="Travel-rule data captured.", data={"previous": previous, "data": normalized})
        order.travel_rule = normalized
    return order
