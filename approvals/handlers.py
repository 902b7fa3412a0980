"""What a work order does to its subject: one handler per work-order type.

``register(type, handler)`` installs a handler; ``get_handler(type)`` finds it. A handler provides

- ``context(subject) -> dict``: what step conditions are evaluated against (amount, currency,
  values in USD/HKD, ...), stored on the work order;
- ``screen(subject, context) -> ScreeningResult | None``: the screening gate (None: not screened);
- ``on_approved(work_order, actor)`` / ``on_rejected(work_order, actor, reason)``: called inside
  the deciding transaction, with the subject's own services;
- ``gate_errors(work_order) -> list[str]``: reasons the final approval cannot complete yet;
  ``gate_error_code`` is the DomainError code raised for them;
- ``describe(subject) -> str``: one line for lists and the queue.

The built-in handlers call the other apps' services, imported inside the functions (the apps
depend on approvals, not the other way round).
"""

from __future__ import annotations

from decimal import Decimal

from approvals.models import WorkOrderType
from approvals.prices import travel_rule_threshold_hkd, value_in
from approvals.screening import ScreeningResult, screen

_REGISTRY: dict[str, WorkOrderHandler] = {}


class WorkOrderHandler:
    gate_error_code = "approval_blocked"

    def context(self, subject) -> dict:
        return {}

    def screen(self, subject, context: dict) -> ScreeningResult | None:
        return None

    def on_approved(self, work_order, actor) -> None:
        pass

    def on_rejected(self, work_order, actor, reason: str) -> None:
        pass

    def gate_errors(self, work_order) -> list[str]:
        return []

    def describe(self, subject) -> str:
        return str(subject)


def register(type: str, handler: WorkOrderHandler) -> None:  # noqa: A002 - the contract's name
    _REGISTRY[type] = handler


def get_handler(type: str) -> WorkOrderHandler:  # noqa: A002
    return _REGISTRY.get(type) or WorkOrderHandler()


def valued_context(*, amount: Decimal, currency: str) -> dict:
    """Amount, currency and its USD/HKD values (strings; None when there is no usable price)."""
    usd = value_in(currency=currency, amount=amount, quote="USD")
    hkd = value_in(currency=currency, amount=amount, quote="HKD")
    return {
        "amount": f"{amount.normalize():f}",
        "currency": currency,
        "value_usd": None if usd is None else f"{usd:f}",
        "value_hkd": None if hkd is None else f"{hkd:f}",
    }


class WithdrawalHandler(WorkOrderHandler):
    """``atm.va.coin_withdraw_apply``: the subject is a WithdrawalOrder."""

    gate_error_code = "travel_rule_required"

    def context(self, order) -> dict:
        coin = order.coin
        ctx = valued_context(amount=order.amount, currency=coin.currency.code)
        hkd = ctx["value_hkd"]
        ctx.update({
            "network": coin.network.code,
            "destination": order.destination,
            "customer": order.customer.reference,
            # Unknown value (no HKD price): the rule applies (fail safe).
            "travel_rule_required": hkd is None or Decimal(hkd) >= travel_rule_threshold_hkd(),
            "travel_rule_threshold_hkd": f"{travel_rule_threshold_hkd():f}",
        })
        return ctx

    def screen(self, order, context: dict) -> ScreeningResult:
        return screen(context["network"], context["destination"])

    def on_approved(self, work_order, actor) -> None:
        from withdrawals.services.orders import withdrawal_approve

        withdrawal_approve(order=work_order.object_id, actor=actor, reason=f"Work order WO{work_order.pk} approved")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from withdrawals.services.orders import withdrawal_reject

        withdrawal_reject(order=work_order.object_id, actor=actor, reason=reason)

    def gate_errors(self, work_order) -> list[str]:
        if not work_order.context.get("travel_rule_required"):
            return []
        from approvals.travel_rule import travel_rule_problems
        from withdrawals.models import WithdrawalOrder

        order = WithdrawalOrder.objects.select_related("coin__network").get(pk=work_order.object_id)
        return travel_rule_problems(order)

    def describe(self, order) -> str:
        coin = order.coin
        return (f"Withdrawal W{order.pk}: {order.amount.normalize():f} {coin.currency.code} on {coin.network.code} "
                f"to {order.destination} (customer {order.customer.reference})")


class AddressReviewHandler(WorkOrderHandler):
    """``atm.va.address_verify``: the subject is a CustomerAddress up for staff review."""

    def context(self, address) -> dict:
        return {"network": address.network.code, "address": address.address,
                "customer": address.customer.reference}

    def on_approved(self, work_order, actor) -> None:
        from withdrawals.services.addresses import address_mark_verified

        address_mark_verified(address=work_order.subject, actor=actor, method="evidence",
                              reason=f"Work order WO{work_order.pk} approved")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from withdrawals.services.addresses import address_reject

        address_reject(address=work_order.subject, actor=actor, reason=reason)

    def describe(self, address) -> str:
        return f"Address {address.network.code}:{address.address} (customer {address.customer.reference})"


class FeeReserveHandler(WorkOrderHandler):
    """``atm.va.main_account_topup`` / ``atm.va.sub_to_main_transfer``: a FeeReserveRequest;
    approval books the ledger transfer."""

    def context(self, request) -> dict:
        ctx = valued_context(amount=request.amount, currency=request.currency.code)
        ctx.update({"kind": request.kind, "tenant": request.tenant.venue_code})
        return ctx

    def on_approved(self, work_order, actor) -> None:
        from approvals.services import fee_reserve_request_book

        fee_reserve_request_book(request_id=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from approvals.services import fee_reserve_request_close

        fee_reserve_request_close(request_id=work_order.object_id, actor=actor, reason=reason, transition="reject")

    def describe(self, request) -> str:
        return (f"{request.get_kind_display()} FRR{request.pk}: {request.amount.normalize():f} "
                f"{request.currency.code} ({request.tenant.venue_code})")


register(WorkOrderType.COIN_WITHDRAW_APPLY, WithdrawalHandler())
register(WorkOrderType.ADDRESS_VERIFY, AddressReviewHandler())
register(WorkOrderType.MAIN_ACCOUNT_TOPUP, FeeReserveHandler())
register(WorkOrderType.SUB_TO_MAIN_TRANSFER, FeeReserveHandler())
