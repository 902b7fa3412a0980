"""Fixtures of the ledger tests: currencies and funded customers."""

from decimal import Decimal

import pytest

from ledger.services import ledger_deposit, ledger_transfer
from tests.fixtures.factories import CurrencyFactory, CustomerFactory


@pytest.fixture
def eth(db) -> str:
    return CurrencyFactory(code="ETH", decimals=18).code


@pytest.fixture
def btc(db) -> str:
    return CurrencyFactory(code="BTC", name="Bitcoin", decimals=8).code


@pytest.fixture
def funded(customer, eth):
    """The SPEC example: ETH 1.0 on VA/HAS/ETHUSD and 0.8 on VA/HAS/ETHHKD."""
    ledger_deposit(customer=customer, currency=eth, quote="USD", amount=Decimal("1.0"), reference="dep-usd")
    ledger_deposit(customer=customer, currency=eth, quote="HKD", amount=Decimal("0.8"), reference="dep-hkd")
    return customer


@pytest.fixture
def main_funded(tenant, eth):
    ledger_transfer(tenant=tenant, currency=eth, amount=Decimal("1"), kind="main_topup", reference="topup-1")
    return tenant


@pytest.fixture
def other_customer(tenant):
    return CustomerFactory(tenant=tenant)
