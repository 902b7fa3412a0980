"""What the work orders do to this app's subjects (registered in ``WithdrawalsConfig.ready``).

* ``atm.va.coin_withdraw_apply``: a WithdrawalOrder; approval approves it (the send task starts
  on commit), rejection rejects it and releases the hold; travel-rule data gate the last approval.
* ``atm.va.address_verify``: a CustomerAddress up for staff review.
* ``atm.va.hot_wallet_opening``: a HotWalletOpening; approval makes it the wallet's active one.
* ``atm.va.reconciliation_ack``: a ReconciliationAlert; approval (two Treasury members) acknowledges
  it and lifts the reconciliation's pause of its network.
* ``atm.va.withdraw_resolve``: a WithdrawalOrder in review_required; approval applies the proposed
  outcome once the chain agrees.
"""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from approvals.handlers import WorkOrderHandler, register, valued_context
from approvals.models import WorkOrderType
from approvals.prices import travel_rule_threshold_hkd
from approvals.screening import ScreeningResult, screen
from withdrawals.admin.travel_rule import CAPTURE_PERMISSION
from withdrawals.models import WithdrawalOrder
from withdrawals.services.addresses import address_mark_verified, address_micropayment_seen, address_reject
from withdrawals.services.orders import withdrawal_approve, withdrawal_reject
from withdrawals.services.travel_rule import travel_rule_problems


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
        withdrawal_approve(order=work_order.object_id, actor=actor, reason=f"Work order WO{work_order.pk} approved")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        withdrawal_reject(order=work_order.object_id, actor=actor, reason=reason)

    def gate_errors(self, work_order) -> list[str]:
        if not work_order.context.get("travel_rule_required"):
            return []
        order = WithdrawalOrder.objects.select_related("coin__network").get(pk=work_order.object_id)
        return travel_rule_problems(order)

    def gate_panel(self, work_order, user, gate_errors: list[str]) -> dict:
        required = bool(work_order.context.get("travel_rule_required"))
        return {
            "required": required,
            "problems": gate_errors if required else [],
            "threshold_hkd": work_order.context.get("travel_rule_threshold_hkd"),
            "value_hkd": work_order.context.get("value_hkd"),
            "capture_url": reverse("admin:withdrawals_withdrawalorder_travel_rule", args=[work_order.object_id]),
            "may_capture": bool(user.has_perm(CAPTURE_PERMISSION)),
        }

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
        context = work_order.context or {}
        if context.get("method") == "micropayment":  # a staff claim, checked by a second person
            address_micropayment_seen(address=work_order.subject, actor=actor, tx_hash=context["tx_hash"],
                                      amount=Decimal(context["micropayment_amount"]),
                                      reason=f"Work order WO{work_order.pk} approved: micropayment in "
                                             f"{context['tx_hash']} (claimed by {context.get('claimed_by')}).")
            return
        address_mark_verified(address=work_order.subject, actor=actor, method="evidence",
                              reason=f"Work order WO{work_order.pk} approved")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        address_reject(address=work_order.subject, actor=actor, reason=reason)

    def describe(self, address) -> str:
        return f"Address {address.network.code}:{address.address} (customer {address.customer.reference})"


class HotWalletOpeningHandler(WorkOrderHandler):
    """``atm.va.hot_wallet_opening``: the subject is a HotWalletOpening (withdrawals.services.reconciliation)."""

    def context(self, opening) -> dict:
        return {"network": opening.network.code, "address": opening.address, "currency": opening.currency.code,
                "amount": f"{opening.amount.normalize():f}", "as_of": opening.as_of.isoformat(),
                "reason": opening.reason}

    def on_approved(self, work_order, actor) -> None:
        from withdrawals.services.reconciliation import hot_wallet_opening_activate

        hot_wallet_opening_activate(opening=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from withdrawals.services.reconciliation import hot_wallet_opening_reject

        hot_wallet_opening_reject(opening=work_order.object_id, actor=actor, reason=reason)

    def describe(self, opening) -> str:
        return str(opening)


class ReconciliationAckHandler(WorkOrderHandler):
    """``atm.va.reconciliation_ack``: the subject is a ReconciliationAlert."""

    def context(self, alert) -> dict:
        return {"network": alert.network.code, "address": alert.address, "currency": alert.currency.code,
                "difference": f"{alert.difference.normalize():f}", "reason": alert.reason}

    def on_approved(self, work_order, actor) -> None:
        from withdrawals.services.reconciliation import reconciliation_alert_close

        reconciliation_alert_close(alert=work_order.object_id, work_order=work_order, actor=actor)

    def describe(self, alert) -> str:
        return f"Reconciliation alert RA{alert.pk}: {alert.reason}"
class WithdrawResolveHandler(WorkOrderHandler):
    """``atm.va.withdraw_resolve``: a WithdrawalOrder in review_required; the context carries the
    proposed ``outcome`` and the maker's ``reason``. Approval applies it once the chain agrees
    (``withdrawal_resolve`` refuses otherwise, and the approval with it); rejection leaves the
    order in review."""

    def context(self, order) -> dict:
        coin = order.coin
        return {"amount": f"{order.amount.normalize():f}", "currency": coin.currency.code,
                "network": coin.network.code, "destination": order.destination, "order_status": order.status}

    def on_approved(self, work_order, actor) -> None:
        from withdrawals.pipeline.review import withdrawal_resolve

        ctx = work_order.context
        withdrawal_resolve(order=work_order.object_id, outcome=ctx.get("outcome"), actor=actor,
                           reason=f"Resolved through WO{work_order.pk}: {ctx.get('outcome')} ({ctx.get('reason')})")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from withdrawals.services.moves import withdrawal_note

        order = WithdrawalOrder.objects.get(pk=work_order.object_id)
        withdrawal_note(order, actor=actor, reason=f"Resolution WO{work_order.pk} rejected: {reason}")

    def describe(self, order) -> str:
        coin = order.coin
        return (f"Resolve W{order.pk} (review required): {order.amount.normalize():f} {coin.currency.code} on "
                f"{coin.network.code} to {order.destination}")


register(WorkOrderType.COIN_WITHDRAW_APPLY, WithdrawalHandler())
register(WorkOrderType.WITHDRAW_RESOLVE, WithdrawResolveHandler())
register(WorkOrderType.ADDRESS_VERIFY, AddressReviewHandler())
register(WorkOrderType.HOT_WALLET_OPENING, HotWalletOpeningHandler())
register(WorkOrderType.RECONCILIATION_ACK, ReconciliationAckHandler())
