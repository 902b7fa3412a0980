"""Fiat in the ledger: the sell entry (one, balanced per currency, largest instrument first), the
fiat withdrawal's postings, ledger_check."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import DomainError
from ledger.fiat import ledger_fiat_return, ledger_fiat_send, ledger_fiat_settle, ledger_sell
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_check
from ledger.services import ledger_deposit, ledger_hold
from tests.fixtures.factories import CurrencyFactory

pytestmark = pytest.mark.django_db


def _balance(customer, currency, instrument, kind="customer_available"):
    row = Account.objects.filter(customer=customer, currency=currency, instrument=instrument, kind=kind).first()
    return row.balance if row else Decimal(0)


def _tenant_balance(tenant, currency, kind):
    row = Account.objects.filter(tenant=tenant, customer=None, currency=currency, kind=kind).first()
    return row.balance if row else Decimal(0)


@pytest.fixture
def eth_holder(kyc_customer):
    CurrencyFactory(code="ETH", decimals=18)
    ledger_deposit(customer=kyc_customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="d1")
    ledger_deposit(customer=kyc_customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="d2")
    return kyc_customer


def test_sell_is_one_balanced_entry_largest_instrument_first(eth_holder):
    entry, split = ledger_sell(customer=eth_holder, currency="ETH", amount=Decimal("1.5"), fiat="HKD",
                               fiat_amount=Decimal("30000.00"), price=Decimal("20000"), reference="sell:1")
    assert [(s.instrument, s.amount) for s in split] == [("VA/HAS/ETHUSD", Decimal("1")),
                                                         ("VA/HAS/ETHHKD", Decimal("0.5"))]
    assert entry.kind == "sell" and entry.customer_id == eth_holder.pk
    assert {k: entry.request[k] for k in ("currency", "amount", "fiat", "fiat_amount", "price")} == {
        "currency": "ETH", "amount": "1.5", "fiat": "HKD", "fiat_amount": "30000", "price": "20000"}
    assert JournalEntry.objects.filter(kind="sell").count() == 1
    assert _balance(eth_holder, "ETH", "VA/HAS/ETHUSD") == 0
    assert _balance(eth_holder, "ETH", "VA/HAS/ETHHKD") == Decimal("0.3")
    assert _balance(eth_holder, "HKD", "FIAT/HAS/HKD") == Decimal("30000")
    assert _tenant_balance(eth_holder.tenant, "ETH", "crypto_inventory") == Decimal("1.5")
    assert _tenant_balance(eth_holder.tenant, "HKD", "client_money_bank") == Decimal("30000")
    # A replay posts nothing more and answers the same split.
    again, split2 = ledger_sell(customer=eth_holder, currency="ETH", amount=Decimal("1.5"), fiat="HKD",
                                fiat_amount=Decimal("30000.00"), price=Decimal("20000"), reference="sell:1")
    assert again.pk == entry.pk and split2 == split
    assert ledger_check() == []


def test_sell_beyond_the_balance_changes_nothing(eth_holder):
    entries = JournalEntry.objects.count()
    with pytest.raises(DomainError) as refused:
        ledger_sell(customer=eth_holder, currency="ETH", amount=Decimal("1.9"), fiat="HKD",
                    fiat_amount=Decimal("38000"), price=Decimal("20000"), reference="sell:2")
    assert refused.value.code == "insufficient_balance"
    assert JournalEntry.objects.count() == entries
    with pytest.raises(DomainError) as refused:
        ledger_sell(customer=eth_holder, currency="ETH", amount=Decimal("0.1"), fiat="HKD",
                    fiat_amount=Decimal("2000.001"), price=Decimal("20000"), reference="sell:3")
    assert refused.value.code == "amount_precision"
    assert JournalEntry.objects.count() == entries


def test_fiat_withdrawal_postings_completed_and_returned(eth_holder):
    ledger_sell(customer=eth_holder, currency="ETH", amount=Decimal("1"), fiat="HKD",
                fiat_amount=Decimal("20000"), price=Decimal("20000"), reference="sell:1")
    split = ledger_hold(customer=eth_holder, currency="HKD", amount=Decimal("5050"), reference="fw:1:hold")
    assert [(s.instrument, s.amount) for s in split] == [("FIAT/HAS/HKD", Decimal("5050"))]
    ledger_fiat_send(customer=eth_holder, currency="HKD", split=split, fee=Decimal("50"), reference="fw:1:send")
    t = eth_holder.tenant
    assert _tenant_balance(t, "HKD", "fiat_in_transit") == Decimal("5000")
    assert _tenant_balance(t, "HKD", "fee_revenue") == Decimal("50")
    ledger_fiat_settle(customer=eth_holder, currency="HKD", amount=Decimal("5000"), reference="fw:1:settle")
    assert _tenant_balance(t, "HKD", "fiat_in_transit") == 0
    assert _tenant_balance(t, "HKD", "client_money_bank") == Decimal("15000")
    split = ledger_hold(customer=eth_holder, currency="HKD", amount=Decimal("1050"), reference="fw:2:hold")
    ledger_fiat_send(customer=eth_holder, currency="HKD", split=split, fee=Decimal("50"), reference="fw:2:send")
    ledger_fiat_return(customer=eth_holder, currency="HKD", amount=Decimal("1000"), charge=Decimal("30"),
                       reference="fw:2:return")
    assert _balance(eth_holder, "HKD", "FIAT/HAS/HKD") == Decimal("20000") - 5050 - 1050 + 970
    assert _tenant_balance(t, "HKD", "client_money_bank") == Decimal("14970")
    assert ledger_check() == []


def test_ledger_check_names_a_fiat_kind_in_crypto(eth_holder):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ledger_account (tenant_id, customer_id, currency, instrument, kind, balance) "
                       "VALUES (%s, NULL, 'ETH', '', 'client_money_bank', 0)", [eth_holder.tenant_id])
    assert any("fiat account kind" in p for p in ledger_check())


def test_business_days_skip_weekends():
    from datetime import datetime

    from fiat.services.withdrawals import business_days_between

    friday = datetime(2026, 12, 4, 12, tzinfo=UTC)
    assert business_days_between(friday, datetime(2026, 12, 7, 9, tzinfo=UTC)) == 1  # Monday
    assert business_days_between(friday, datetime(2026, 12, 14, 9, tzinfo=UTC)) == 6
