"""``atm.p2p.appeal`` (registered in ``P2PConfig.ready``): the subject is a P2PTrade in appeal;
the context carries the proposed ``outcome`` (release | refund), the maker's ``reason`` and the
trade ``version`` the proposal saw. Approval applies it (``trade_resolve`` refuses, and the
approval with it, when the trade moved meanwhile); rejection leaves the trade in appeal."""

from __future__ import annotations

from approvals.handlers import WorkOrderHandler, register, valued_context
from approvals.models import WorkOrderType
from p2p.models import P2PTrade


class AppealHandler(WorkOrderHandler):
    def context(self, trade: P2PTrade) -> dict:
        ctx = valued_context(amount=trade.escrow_amount, currency=trade.currency_id)
        # The trade's own fiat value is known exactly: it is what the buyer pays.
        if trade.fiat in ("USD", "HKD"):
            ctx[f"value_{trade.fiat.lower()}"] = f"{trade.fiat_amount.normalize():f}"
        ctx.update({"fiat": trade.fiat, "fiat_amount": f"{trade.fiat_amount.normalize():f}",
                    "seller": trade.seller.reference, "buyer": trade.buyer.reference,
                    "appealed_by": trade.appealed_by, "appeal_reason": trade.appeal_reason})
        return ctx

    def on_approved(self, work_order, actor) -> None:
        from p2p.services import trade_resolve

        ctx = work_order.context
        trade_resolve(trade=work_order.object_id, outcome=ctx.get("outcome"), version=ctx.get("version"), actor=actor,
                      reason=f"Resolved through WO{work_order.pk}: {ctx.get('outcome')} ({ctx.get('reason')})")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from p2p.services import trade_resolution_rejected

        trade_resolution_rejected(trade=work_order.object_id, actor=actor, reason=f"WO{work_order.pk}: {reason}")

    def describe(self, trade: P2PTrade) -> str:
        return (f"P2P appeal T{trade.pk}: {trade.amount.normalize():f} {trade.currency_id} for "
                f"{trade.fiat_amount.normalize():f} {trade.fiat} (seller {trade.seller.reference}, "
                f"buyer {trade.buyer.reference})")


register(WorkOrderType.P2P_APPEAL, AppealHandler())
