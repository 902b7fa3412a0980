"""Reads of the hot-wallet reconciliation (docs/PIPELINE.md, "Reconciliation").

The expected balance of (network, hot address, currency) is computed from the console's own
rows, not the ledger: the ledger is kept per tenant and currency (USDT on ETH and on TRON share
accounts, and it has no notion of a hot address), whereas every ``WithdrawalTransaction`` names
its sender and network and the order records the fee the chain actually charged (``fee_paid``,
from the receipt / the transaction's inputs − outputs).

    settled = Σ amount   of completed orders of this currency (terminal move after as_of)
            + Σ fee_paid of completed or failed orders whose fee currency this is (idem)
    in flight (per order in broadcasting/confirming with a live candidate, signed or sent):
              amount (if the coin is this currency) + the highest max_fee of its live
              candidates (if the fee currency is this one) — at most one candidate lands
    expected_high = opening − settled                 (none of the in-flight ones landed)
    expected_low  = expected_high − Σ in flight       (all of them landed)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, OuterRef, Q, Subquery, Sum

from withdrawals.models import (
    HotWalletOpening,
    ReconciliationAlert,
    WithdrawalOrder,
    WithdrawalStatusChange,
    WithdrawalTransaction,
)

S = WithdrawalOrder.Status
LIVE = (WithdrawalTransaction.State.SIGNED, WithdrawalTransaction.State.SENT)

# Differences up to this much are noise (rounding of fees read from nodes), per currency code.
DEFAULT_DUST = {"ETH": "0.0001", "BTC": "0.00001", "TRX": "0.1", "USDT": "0.01"}


@dataclass(frozen=True)
class Expected:
    low: Decimal
    high: Decimal
    settled_out: Decimal
    in_flight_out: Decimal
    in_flight_orders: int

    def union(self, other: Expected) -> Expected:
        """Both readings' ranges together: a move made between two reads is covered by one of them."""
        return Expected(low=min(self.low, other.low), high=max(self.high, other.high),
                        settled_out=max(self.settled_out, other.settled_out),
                        in_flight_out=max(self.in_flight_out, other.in_flight_out),
                        in_flight_orders=max(self.in_flight_orders, other.in_flight_orders))


def reconciliation_dust(currency) -> Decimal:
    """settings.RECONCILIATION_DUST[code], else DEFAULT_DUST, else the currency's smallest unit."""
    configured = {**DEFAULT_DUST, **getattr(settings, "RECONCILIATION_DUST", {})}
    if currency.code in configured:
        return Decimal(str(configured[currency.code]))
    return Decimal(1).scaleb(-currency.decimals)


def hot_wallet_opening_active(*, network, address: str, currency) -> HotWalletOpening | None:
    return (HotWalletOpening.objects.filter(network=network, address=address, currency=currency,
                                            status=HotWalletOpening.Status.ACTIVE)
            .select_related("network", "currency").first())


def _orders_from(network, address: str):
    sent_by_wallet = WithdrawalTransaction.objects.filter(sender=address).values("order_id")
    return WithdrawalOrder.objects.filter(coin__network=network, pk__in=sent_by_wallet)


def hot_wallet_expected(*, opening: HotWalletOpening) -> Expected:
    """The range the chain balance of the opening's wallet and currency must lie in (see above)."""
    network, address, currency = opening.network, opening.address, opening.currency
    orders = _orders_from(network, address)
    finished_at = Subquery(WithdrawalStatusChange.objects.filter(
        order=OuterRef("pk"), to_status__in=[S.COMPLETED, S.FAILED]).order_by("-at").values("at")[:1])
    settled = orders.filter(status__in=[S.COMPLETED, S.FAILED]).annotate(finished_at=finished_at).filter(
        finished_at__gt=opening.as_of)
    principal = settled.filter(status=S.COMPLETED, coin__currency=currency).aggregate(s=Sum("amount"))["s"]
    fees = settled.filter(coin__fee_currency=currency).aggregate(s=Sum("fee_paid"))["s"]
    settled_out = (principal or Decimal(0)) + (fees or Decimal(0))

    in_flight = (orders.exclude(status__in=WithdrawalOrder.TERMINAL)
                 .filter(Q(coin__currency=currency) | Q(coin__fee_currency=currency))
                 .annotate(worst_fee=Max("transactions__max_fee", filter=Q(transactions__state__in=LIVE)))
                 .filter(worst_fee__isnull=False)
                 .values_list("amount", "worst_fee", "coin__currency_id", "coin__fee_currency_id"))
    in_flight_out, count = Decimal(0), 0
    for amount, worst_fee, coin_currency, fee_currency in in_flight:
        count += 1
        in_flight_out += (amount if coin_currency == currency.pk else 0) + (
            worst_fee if fee_currency == currency.pk else 0)
    high = opening.amount - settled_out
    return Expected(low=high - in_flight_out, high=high, settled_out=settled_out, in_flight_out=in_flight_out,
                    in_flight_orders=count)


def reconciliation_alerts_open(*, network=None):
    alerts = ReconciliationAlert.objects.filter(acknowledged_at=None).select_related("network", "currency")
    return alerts.filter(network=network) if network is not None else alerts


def reconciliation_status_by_network() -> dict[str, list[ReconciliationAlert]]:
    """Open alerts per network code (for /health/): one query."""
    result: dict[str, list[ReconciliationAlert]] = {}
    for alert in reconciliation_alerts_open().order_by("detected_at"):
        result.setdefault(alert.network.code, []).append(alert)
    return result
