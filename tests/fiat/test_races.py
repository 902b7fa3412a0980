"""Races on real PostgreSQL connections: one quote executed twice at once → one sell; many sells
and fiat withdrawals against one balance → no overdraft, ledger_check clean."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from approvals.models import PriceQuote, WorkOrder
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from fiat.models import BankAccount, FiatWithdrawal, Sell
from fiat.services.bank_accounts import bank_account_register
from fiat.services.sells import quote_create, sell_execute
from fiat.services.withdrawals import fiat_withdrawal_request
from ledger.models import Account
from ledger.selectors import ledger_check
from ledger.services import ledger_deposit
from tests.fiat.conftest import HSBC_HK
from tests.fixtures.factories import CurrencyFactory, CustomerFactory, TenantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("otp_codes")]


def run_all(target, n: int):
    barrier = threading.Barrier(n)
    results, crashed, lock = [], [], threading.Lock()

    def run(i):
        try:
            barrier.wait(timeout=30)
            outcome = target(i)
            with lock:
                results.append(("ok", outcome))
        except DomainError as exc:
            with lock:
                results.append(("refused", exc.code))
        except BaseException as exc:  # a deadlock or anything else fails the test
            with lock:
                crashed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not crashed, crashed[:3]
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.fixture
def seller(db, settings):
    settings.FIAT_QUOTE_TTL_SECONDS = 600  # the quotes must outlive the set-up on a loaded machine
    customer = CustomerFactory(tenant=TenantFactory(), legal_name="CHAN Tai Man", country="HK", kyc_level=3)
    for fiat in ("HKD", "USD"):  # a transactional test's flush empties the migration's currencies
        CurrencyFactory(code=fiat, decimals=2)
    eth = CurrencyFactory(code="ETH", decimals=18)
    PriceQuote.objects.create(currency=eth, quote="HKD", price=Decimal("20000"))
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="d-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.7"), reference="d-hkd")
    return customer


def test_one_quote_executed_twice_at_once_is_one_sell(seller):
    quote = quote_create(customer=seller, sell_currency="ETH", sell_amount="1.2", fiat="HKD")
    results = run_all(lambda i: sell_execute(customer=seller, idempotency_key=f"k{i}", quote_id=quote.pk,
                                             otp="123456")[0].pk, 2)
    assert sorted(kind for kind, _ in results) == ["ok", "refused"]
    assert [code for kind, code in results if kind == "refused"] == ["quote_used"]
    assert Sell.objects.count() == 1
    assert ledger_check() == []


def test_many_sells_and_fiat_withdrawals_against_one_balance_never_overdraw(seller, compliance_officer):
    # 0.5 ETH sold first gives 9900 HKD to withdraw; then 12 sells of 0.1 ETH (1.2 left) race 12
    # withdrawals of 1000 HKD (+5 fee) against the HKD balance.
    first = quote_create(customer=seller, sell_currency="ETH", sell_amount="0.5", fiat="HKD")
    sell_execute(customer=seller, idempotency_key="first", quote_id=first.pk, otp="123456")
    account = bank_account_register(customer=seller, holder_name="Chan Tai Man", **HSBC_HK)
    work_order_decide(work_order=WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk),
                      actor=compliance_officer, decision="approve")
    BankAccount.objects.filter(pk=account.pk).update(usable_from=timezone.now() - timedelta(minutes=1))
    quotes = [quote_create(customer=seller, sell_currency="ETH", sell_amount="0.15", fiat="HKD") for _ in range(12)]

    def act(i):
        if i % 2 == 0:
            return sell_execute(customer=seller, idempotency_key=f"s{i}", quote_id=quotes[i // 2].pk, otp="123456")
        return fiat_withdrawal_request(customer=seller, idempotency_key=f"w{i}", bank_account_id=account.pk,
                                       amount="1000", otp="123456")

    results = run_all(act, 24)
    refusals = {code for kind, code in results if kind == "refused"}
    assert refusals <= {"insufficient_balance"}
    sells = Sell.objects.count() - 1
    withdrawals = FiatWithdrawal.objects.count()
    assert sells * Decimal("0.15") <= Decimal("1.2")
    assert sells == 8  # 8 × 0.15 = 1.2 ETH: every sell that fitted went through
    fiat_in = Decimal("9900") + sells * Decimal("2970")
    assert withdrawals * Decimal("1005") <= fiat_in
    for row in Account.objects.filter(customer=seller):
        assert row.balance >= 0
    assert ledger_check() == []
