"""Staff in groups, flows configured per test, price quotes, and subjects for work orders:
fee-reserve requests (ledger) and real withdrawals (``withdrawal_request`` with its hold)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission

from approvals.models import ApprovalFlow, ApprovalStep, Condition, PriceQuote
from approvals.services.flows import approval_flow_activate_now
from chains.models import Currency
from customers.models import Customer
from tests.fixtures.factories import CoinFactory, CustomerFactory, StaffFactory, TenantFactory
from withdrawals.models import CustomerAddress

ALWAYS = Condition.ALWAYS


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Factories hash a password per user; the default hasher costs ~1 s each on a shared box."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def staff_in(*group_names: str, perms: tuple[str, ...] = (), username: str | None = None):
    """A staff user in the named groups (created as needed), with extra ``app.codename`` perms."""
    user = StaffFactory(username=username) if username else StaffFactory()
    for name in group_names:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_flow(type_: str, steps: list[tuple], *, activate: bool = True) -> ApprovalFlow:
    """A new flow version: steps are (name, group, n[, condition, threshold, threshold_currency])."""
    version = (ApprovalFlow.objects.filter(type=type_).order_by("-version").values_list("version", flat=True)
               .first() or 0) + 1
    flow = ApprovalFlow.objects.create(type=type_, version=version)
    for position, (name, group, n, *rest) in enumerate(steps, start=1):
        condition, threshold, currency = (*rest, None, "")[:3] if rest else (ALWAYS, None, "")
        ApprovalStep.objects.create(flow=flow, position=position, name=name,
                                    group=Group.objects.get_or_create(name=group)[0], approvals_required=n,
                                    condition=condition, threshold=threshold, threshold_currency=currency)
    if activate:
        approval_flow_activate_now(flow=flow)  # test setup; a person's activation waits for a second one
    return flow


def set_price(code: str, quote: str, price: str) -> PriceQuote:
    currency = Currency.objects.get(code=code)
    row, _ = PriceQuote.objects.update_or_create(currency=currency, quote=quote, defaults={"price": Decimal(price)})
    return row


@pytest.fixture
def eth_prices(db):
    """1 ETH = 2,500 USD = 19,500 HKD (so 0.4 ETH is 7,800 HKD, under the travel-rule threshold)."""
    CoinFactory()
    return set_price("ETH", "USD", "2500"), set_price("ETH", "HKD", "19500")


# --- withdrawals, through the real request service -------------------------------------------------

@dataclass
class Wallet:
    customer: Customer
    coin: object
    address: CustomerAddress

    def request(self, amount: str = "0.3", key: str | None = None, travel_rule: dict | None = None):
        from withdrawals.services.orders import withdrawal_request

        self.n = getattr(self, "n", 0) + 1
        order, _ = withdrawal_request(customer=self.customer, idempotency_key=key or f"k{self.n}", currency="ETH",
                                      network="ETH", address_id=self.address.pk, amount=amount, otp="000000",
                                      travel_rule=travel_rule)
        return order


@pytest.fixture
def wallet(db, monkeypatch, eth_prices) -> Wallet:
    """A customer with ETH on two instruments (ETHUSD 1.0, ETHHKD 0.8) and a usable address.
    The OTP check is bypassed (tests/withdrawals covers it)."""
    from django.utils import timezone

    from ledger.services import ledger_deposit

    monkeypatch.setattr("withdrawals.services.orders.totp_verify", lambda *, customer, code: None)
    coin = CoinFactory()
    customer = CustomerFactory(tenant=TenantFactory())
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="dep-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="dep-hkd")
    now = timezone.now()
    address = CustomerAddress.objects.create(
        customer=customer, network=coin.network, address="0x" + "ab" * 20, label="mine", status="verified",
        verification_method="signature", verified_at=now - timezone.timedelta(days=2),
        usable_from=now - timezone.timedelta(days=1))
    return Wallet(customer=customer, coin=coin, address=address)


def travel_rule_for(address: str, **overrides) -> dict:
    data = {"originator": {"name": "Chan Tai Man", "account": "C000001"},
            "beneficiary": {"name": "Chan Tai Man", "address": address},
            "beneficiary_vasp": {"name": "Example Exchange Ltd"}, "self_hosted": False}
    data.update(overrides)
    return data
