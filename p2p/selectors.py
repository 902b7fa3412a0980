"""Reads of P2P offers and trades for the App, the admin and the sweep (constant query counts).
A customer sees only their own trades (another's is not found: 404, never 403)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet

from core.errors import DomainError
from p2p.models import P2PEvidence, P2POffer, P2PTrade, P2PTradeStatusChange

Status = P2PTrade.Status


def _offers(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("seller", "currency").prefetch_related("payment_methods")


def offers_market(*, customer, currency: str | None = None, fiat: str | None = None) -> QuerySet[P2POffer]:
    """Active offers of the customer's broker that have something left, cheapest first."""
    queryset = P2POffer.objects.filter(seller__tenant_id=customer.tenant_id, status=P2POffer.Status.ACTIVE,
                                       remaining__gt=0)
    if currency:
        queryset = queryset.filter(currency_id=currency)
    if fiat:
        queryset = queryset.filter(fiat=fiat)
    return _offers(queryset).order_by("price", "created_at", "id")


def offers_of(*, seller) -> QuerySet[P2POffer]:
    return _offers(P2POffer.objects.filter(seller=seller)).order_by("-created_at", "-id")


def offer_get_for_customer(*, customer, offer_id) -> P2POffer:
    """The customer's own offer in any state, or an active offer of their broker."""
    try:
        return _offers(P2POffer.objects.filter(
            Q(seller=customer) | Q(seller__tenant_id=customer.tenant_id, status=P2POffer.Status.ACTIVE))
        ).get(pk=int(offer_id))
    except (P2POffer.DoesNotExist, ValueError, TypeError):
        raise DomainError("not_found", "No such offer.")


def _trades(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("seller__user", "buyer__user", "currency", "payment_method").prefetch_related(
        Prefetch("history", queryset=P2PTradeStatusChange.objects.order_by("at", "id")),
        Prefetch("evidence", queryset=P2PEvidence.objects.order_by("created_at", "id")))


def trades_for_customer(*, customer, status: str | None = None, side: str | None = None) -> QuerySet[P2PTrade]:
    if side == "buyer":
        queryset = P2PTrade.objects.filter(buyer=customer)
    elif side == "seller":
        queryset = P2PTrade.objects.filter(seller=customer)
    else:
        queryset = P2PTrade.objects.filter(Q(buyer=customer) | Q(seller=customer))
    if status:
        queryset = queryset.filter(status=status)
    return _trades(queryset).order_by("-created_at", "-id")


def trade_get_for_customer(*, customer, trade_id) -> P2PTrade:
    try:
        return _trades(P2PTrade.objects.filter(Q(buyer=customer) | Q(seller=customer))).get(pk=int(trade_id))
    except (P2PTrade.DoesNotExist, ValueError, TypeError):
        raise DomainError("not_found", "No such trade.")


def appeal_opens_at(trade: P2PTrade):
    if trade.paid_at is None:
        return None
    return trade.paid_at + timedelta(minutes=settings.P2P_APPEAL_AFTER_MINUTES)


def trades_waiting_on_a_human() -> dict:
    """Dashboard counts: paid trades waiting for the seller, trades in appeal (staff), of which
    without a proposed decision yet."""
    from approvals.models import WorkOrder

    counts = P2PTrade.objects.aggregate(
        buyer_paid=Count("pk", filter=Q(status=Status.BUYER_PAID)),
        in_appeal=Count("pk", filter=Q(status=Status.IN_APPEAL)))
    proposed = WorkOrder.objects.filter(type="atm.p2p.appeal", status=WorkOrder.Status.OPEN).count()
    counts["in_appeal_undecided"] = max(counts["in_appeal"] - proposed, 0)
    return counts
