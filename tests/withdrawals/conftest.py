"""A customer ready to withdraw ETH: KYC approved, TOTP enrolled, a verified address, funds on
two instruments (ETHUSD 1.0, ETHHKD 0.8) and an ETH coin with a fee estimate."""

from dataclasses import dataclass
from decimal import Decimal

import pyotp
import pytest
from rest_framework.test import APIClient

from customers.models import Customer
from ledger.services import ledger_deposit
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory, TenantFactory
from withdrawals.models import TotpDevice
from withdrawals.services import otp as otp_service
from withdrawals.services.otp import totp_confirm, totp_enroll, totp_secret


def fresh_otp(customer: Customer) -> str:
    """A code for the earliest time step the device has not used yet (the window allows three)."""
    device = TotpDevice.objects.get(customer=customer)
    totp = pyotp.TOTP(totp_secret(device))
    now_step = int(otp_service.otp_now()) // totp.interval
    step = max(now_step - 1, device.last_used_step + 1)
    assert step <= now_step + 1, "no unused TOTP step left in the window; use the otp_bypass fixture"
    return totp.at(step * totp.interval)


@dataclass
class Wallet:
    customer: Customer
    client: APIClient
    coin: object
    address: object

    def request(self, key: str = "key-1", otp: str | None = None, **overrides):
        body = {"currency": "ETH", "network": "ETH", "address_id": self.address.pk, "amount": "0.5",
                "otp": otp if otp is not None else fresh_otp(self.customer)}
        body.update(overrides)
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        return self.client.post("/api/v1/withdrawals/", body, format="json", **headers)


def enrolled_customer(**kwargs) -> Customer:
    customer = CustomerFactory(tenant=TenantFactory(), **kwargs)
    _, secret, _ = totp_enroll(customer=customer)
    totp = pyotp.TOTP(secret)
    totp_confirm(customer=customer, code=totp.at(int(otp_service.otp_now()) - totp.interval))
    return customer


@pytest.fixture
def wallet(db) -> Wallet:
    coin = CoinFactory()
    coin.network_fee_estimate = Decimal("0.00042")
    coin.save(update_fields=["network_fee_estimate"])
    customer = enrolled_customer()
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="dep-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="dep-hkd")
    address = AddressFactory(customer=customer, network=coin.network)
    client = APIClient()
    client.force_authenticate(customer.user)
    return Wallet(customer=customer, client=client, coin=coin, address=address)


@pytest.fixture
def otp_bypass(monkeypatch):
    """For tests that send more requests than a TOTP window has codes (races, limits)."""
    monkeypatch.setattr("withdrawals.services.orders.totp_verify", lambda *, customer, code: None)
