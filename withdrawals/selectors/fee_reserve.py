"""Selector of the fee-reserve page: is each tenant's main account enough for the network fees of
the withdrawals waiting to be sent? (SPEC.md, "Ledger": the main account pays network fees.)

Per tenant and fee currency: the main account's free balance, what is already reserved, any
shortfall, and what the approved and awaiting-fee orders will need, coin by coin: an approved
order at the coin's latest fee estimate (or its own estimate when the coin has none), an
``awaiting_fee`` order at the fee it failed to reserve (``fee_wanted``) or the latest estimate if
higher, each less what it has reserved already. An order waiting for fees therefore never sits
beside "enough" merely because the stored estimate has not refreshed yet. Three queries whatever
the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum

from ledger.models import Account, AccountKind
from withdrawals.models import WithdrawalOrder

ZERO = Decimal(0)
QUEUED = (WithdrawalOrder.Status.APPROVED, WithdrawalOrder.Status.AWAITING_FEE)


@dataclass
class CoinNeed:
    coin_id: int
    coin: str
    orders: int
    awaiting_fee: int
    estimate_each: Decimal | None
    needed: Decimal


@dataclass
class FeeReserveLine:
    tenant_id: int
    tenant: str
    currency: str
    main: Decimal = ZERO
    reserved: Decimal = ZERO
    shortfall: Decimal = ZERO
    coins: list[CoinNeed] = field(default_factory=list)

    @property
    def needed(self) -> Decimal:
        return sum((c.needed for c in self.coins), ZERO)

    @property
    def missing(self) -> Decimal:
        """How much the main account lacks for the queued orders (0 when it is enough)."""
        return max(self.needed + self.shortfall - self.main, ZERO)

    @property
    def short(self) -> bool:
        return self.missing > 0

    @property
    def awaiting_fee(self) -> int:
        return sum(c.awaiting_fee for c in self.coins)


def fee_reserve_overview(*, tenant=None) -> list[FeeReserveLine]:
    """One line per (tenant, fee currency) that has a main account or queued orders; short first."""
    from customers.models import Tenant

    orders = WithdrawalOrder.objects.filter(status__in=QUEUED)
    accounts = Account.objects.filter(customer__isnull=True, kind__in=[
        AccountKind.MAIN_ACCOUNT, AccountKind.MAIN_RESERVED, AccountKind.MAIN_SHORTFALL])
    if tenant is not None:
        orders, accounts = orders.filter(customer__tenant=tenant), accounts.filter(tenant=tenant)
    groups = (orders.values("customer__tenant_id", "coin_id", "coin__currency__code", "coin__network__code",
                            "coin__fee_currency__code", "coin__network_fee_estimate")
              .annotate(n=Count("id"), own=Sum("network_fee_estimate"), reserved=Sum("fee_reserved"),
                        waiting=Count("id", filter=Q(status=WithdrawalOrder.Status.AWAITING_FEE)),
                        wanted=Sum("fee_wanted", filter=Q(status=WithdrawalOrder.Status.AWAITING_FEE)))
              .order_by("coin__currency__code", "coin__network__code"))
    lines: dict[tuple[int, str], FeeReserveLine] = {}
    names = dict(Tenant.objects.values_list("id", "name"))

    def line(tenant_id: int, currency: str) -> FeeReserveLine:
        key = (tenant_id, currency)
        if key not in lines:
            lines[key] = FeeReserveLine(tenant_id=tenant_id, tenant=names.get(tenant_id, str(tenant_id)),
                                        currency=currency)
        return lines[key]

    for tenant_id, currency, kind, balance in accounts.values_list("tenant_id", "currency_id", "kind", "balance"):
        target = line(tenant_id, currency)
        attr = {AccountKind.MAIN_ACCOUNT: "main", AccountKind.MAIN_RESERVED: "reserved",
                AccountKind.MAIN_SHORTFALL: "shortfall"}[kind]
        setattr(target, attr, balance)
    for g in groups:
        each = g["coin__network_fee_estimate"]
        total = each * g["n"] if each is not None else (g["own"] or ZERO)
        # The awaiting-fee orders at what they failed to reserve, where that is more than counted above.
        if g["waiting"] and each is not None:
            total = max(total, each * (g["n"] - g["waiting"]) + (g["wanted"] or ZERO))
        line(g["customer__tenant_id"], g["coin__fee_currency__code"]).coins.append(CoinNeed(
            coin_id=g["coin_id"], coin=f"{g['coin__currency__code']}/{g['coin__network__code']}", orders=g["n"],
            awaiting_fee=g["waiting"], estimate_each=each, needed=max(total - (g["reserved"] or ZERO), ZERO)))
    return sorted(lines.values(), key=lambda x: (not x.short, x.tenant, x.currency))
