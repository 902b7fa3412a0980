"""Reads of the fiat app, shared by the API, the admin and the other apps (P2P payment methods)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from fiat.models import BankAccount


def bank_accounts_for(*, customer) -> QuerySet[BankAccount]:
    """All of the customer's bank accounts (any state), newest first."""
    return BankAccount.objects.filter(customer=customer).order_by("-id")


def bank_accounts_active_for(*, customer, currency: str | None = None,
                             usable_only: bool = True) -> QuerySet[BankAccount]:
    """The customer's active bank accounts (past their cool-down unless ``usable_only=False``),
    optionally of one currency: where fiat may be paid to (a fiat withdrawal, a P2P offer)."""
    query = BankAccount.objects.filter(customer=customer, status=BankAccount.Status.ACTIVE)
    if usable_only:
        query = query.exclude(usable_from__gt=timezone.now())
    if currency:
        query = query.filter(currency=currency.upper())
    return query.order_by("-id")
