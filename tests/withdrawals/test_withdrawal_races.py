"""Concurrent withdrawal requests on real PostgreSQL connections (one per thread)."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
from django.db import connection

from core.errors import DomainError
from ledger.selectors import customer_balances, ledger_check
from withdrawals.models import WithdrawalOrder
from withdrawals.services.orders import withdrawal_request

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 24


def race(count: int, attempt):
    """Run ``attempt(i)`` in ``count`` threads released together; return results or error codes."""
    barrier = Barrier(count)

    def run(i):
        try:
            barrier.wait()
            return attempt(i)
        except DomainError as error:
            return error.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_requests_never_hold_more_than_available(wallet, otp_bypass):
    # 1.8 ETH available; each request holds 0.1 + 0.0005 fee: at most 17 fit.
    def attempt(i):
        order, created = withdrawal_request(customer=wallet.customer, idempotency_key=f"race-{i}", currency="ETH",
                                            network="ETH", address_id=wallet.address.pk, amount="0.1", otp="x")
        return order.pk

    results = race(THREADS, attempt)
    accepted = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if not isinstance(r, int)]
    assert len(accepted) == 17 and set(refused) == {"insufficient_balance"}
    (eth,) = customer_balances(customer=wallet.customer)
    assert eth["held"] == Decimal("0.1005") * 17
    assert eth["available"] == Decimal("1.8") - eth["held"] >= 0
    assert WithdrawalOrder.objects.count() == 17
    assert ledger_check() == []


def test_concurrent_requests_with_one_key_make_exactly_one_order(wallet, otp_bypass):
    def attempt(i):
        order, created = withdrawal_request(customer=wallet.customer, idempotency_key="same", currency="ETH",
                                            network="ETH", address_id=wallet.address.pk, amount="0.2", otp="x")
        return (order.pk, created)

    results = race(12, attempt)
    assert len({order_id for order_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert WithdrawalOrder.objects.count() == 1
    (eth,) = customer_balances(customer=wallet.customer)
    assert eth["held"] == Decimal("0.2005")
