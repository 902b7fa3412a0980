"""Reads of withdrawal orders for the App and the admin (constant query counts)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange


def _with_related(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("coin__currency", "coin__network", "coin__fee_currency").prefetch_related(
        Prefetch("history", queryset=WithdrawalStatusChange.objects.order_by("at", "id"))
    )


def withdrawals_for_customer(*, customer, status: str | None = None, currency: str | None = None) -> QuerySet:
    queryset = WithdrawalOrder.objects.filter(customer=customer)
    if status:
        queryset = queryset.filter(status=status)
    if currency:
        queryset = queryset.filter(coin__currency__code=currency)
    return _with_related(queryset).order_by("-created_at", "-id")


def withdrawal_get_for_customer(*, customer, order_id) -> WithdrawalOrder:
    """Another customer's order is simply not found (404, never 403)."""
    try:
        return _with_related(WithdrawalOrder.objects.filter(customer=customer)).get(pk=int(order_id))
    except (WithdrawalOrder.DoesNotExist, ValueError, TypeError):
        raise DomainError("not_found", "No such withdrawal.")
