"""Reads of the chain reference data, shared by the admin, the API and the tasks."""

from __future__ import annotations

from django.db.models import QuerySet

from chains.models import Coin, Network

COIN_RELATED = ("currency", "network", "network__native_currency", "fee_currency")


def coins_open_for_withdrawal() -> QuerySet[Coin]:
    """Coins the App may withdraw: enabled, with what the API shows loaded in one query."""
    return Coin.objects.filter(enabled=True).select_related(*COIN_RELATED).order_by("currency__code", "network__code")


def coin_get(*, currency: str, network: str) -> Coin | None:
    """The coin of a currency code on a network code (any state), or None."""
    return (Coin.objects.select_related(*COIN_RELATED)
            .filter(currency__code=currency, network__code=network).first())


def networks_all() -> QuerySet[Network]:
    return Network.objects.select_related("native_currency").order_by("code")
