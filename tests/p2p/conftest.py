"""A P2P market: a KYC'd seller holding USDT on two instruments (VA/HAS/USDTUSD 3,000 and
VA/HAS/USDTHKD 4,000) with TOTP enrolled, a KYC'd buyer, and helpers to take and move trades."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customers.models import Customer
from ledger.services import ledger_deposit
from p2p.models import P2POffer, P2PTrade
from p2p.services import offer_create, trade_mark_paid, trade_open
from tests.fixtures.factories import CurrencyFactory, CustomerFactory, TenantFactory, UserFactory
from tests.withdrawals.conftest import enrolled_customer, fresh_otp

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def proof(name: str = "transfer.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path
    settings.BANK_ACCOUNT_COOLDOWN = timedelta(0)


def named_customer(first: str, last: str, *, otp: bool = False, **kwargs) -> Customer:
    """A customer whose KYC legal name is "LAST First" (Hong Kong style: family name first)."""
    user = UserFactory(first_name=first, last_name=last)
    kwargs.setdefault("legal_name", f"{last.upper()} {first}")
    kwargs.setdefault("country", "HK")
    if otp:
        customer = enrolled_customer(user=user, **kwargs)
    else:
        customer = CustomerFactory(user=user, tenant=TenantFactory(), **kwargs)
    return customer


def active_bank_account(customer: Customer, *, currency: str = "HKD", number: str = "123456789012"):
    """A bank account of the customer, reviewed and active (the cool-down is zero in these tests)."""
    from fiat.services.bank_accounts import bank_account_activate, bank_account_register

    account = bank_account_register(customer=customer, holder_name=customer.legal_name, currency=currency,
                                    rail="FPS" if currency == "HKD" else "SWIFT", bank_code="004",
                                    account_number=number, **({} if currency == "HKD" else {"bic": "HSBCHKHHXXX"}))
    return bank_account_activate(bank_account=account, actor=None, reason="Reviewed (test)")


@dataclass
class Market:
    seller: Customer
    buyer: Customer
    account: object = None

    def offer(self, **overrides) -> P2POffer:
        terms = {"currency": "USDT", "fiat": "HKD", "price": "7.80", "total_amount": "6000", "min_trade": "100",
                 "max_trade": "6000", "payment_method_ids": [self.account.pk] if self.account else []}
        terms.update(overrides)
        return offer_create(seller=self.seller, **terms)

    def take(self, offer: P2POffer, amount: str = "1000", buyer: Customer | None = None, **kwargs) -> P2PTrade:
        return trade_open(buyer=buyer or self.buyer, offer=offer, amount=amount, **kwargs)

    def paid(self, trade: P2PTrade, *, minutes_ago: int = 0) -> P2PTrade:
        trade.refresh_from_db()
        from django.utils import timezone

        return trade_mark_paid(trade=trade, customer=self.buyer, version=trade.version, payer_name="Chan Tai Man",
                               payer_account="HSBC 123-456789-001", proof=proof(),
                               now=timezone.now() - timedelta(minutes=minutes_ago))

    def otp(self) -> str:
        return fresh_otp(self.seller)


@pytest.fixture
def market(db) -> Market:
    CurrencyFactory(code="USDT", decimals=6)
    seller = named_customer("Xiao", "Ming", otp=True)
    buyer = named_customer("Tai Man", "Chan")
    ledger_deposit(customer=seller, currency="USDT", quote="USD", amount=Decimal("3000"), reference="dep-usd")
    ledger_deposit(customer=seller, currency="USDT", quote="HKD", amount=Decimal("4000"), reference="dep-hkd")
    return Market(seller=seller, buyer=buyer, account=active_bank_account(seller))
