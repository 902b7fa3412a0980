"""Concurrent holds against one customer's balance, each thread with its own connection."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import DomainError
from ledger.selectors import customer_balances, ledger_check
from ledger.services import ledger_deposit, ledger_hold, ledger_release

THREADS = 60


@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_never_exceed_the_balance_nor_deadlock(customer, eth):
    ledger_deposit(customer=customer, currency=eth, quote="USD", amount=Decimal("1.0"), reference="d-usd")
    ledger_deposit(customer=customer, currency=eth, quote="HKD", amount=Decimal("0.7"), reference="d-hkd")
    balance = Decimal("1.7")
    amount = Decimal("0.1")  # 60 × 0.1 = 6.0 asked for 1.7 available
    barrier = threading.Barrier(THREADS)
    open_holds: list[list] = []
    succeeded: list[int] = []
    refused: list[str] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def hold(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            split = ledger_hold(customer=customer, currency=eth, amount=amount, reference=f"race-{i}")
            with lock:
                succeeded.append(i)
            if i % 7 == 0:  # some give it back at once, so releases race with the holds too
                ledger_release(customer=customer, currency=eth, split=split, reference=f"race-{i}-release")
            else:
                with lock:
                    open_holds.append(split)
        except DomainError as exc:
            with lock:
                refused.append(exc.code)
        except BaseException as exc:  # a deadlock (40P01) or anything else fails the test
            with lock:
                crashed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=hold, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not crashed, crashed[:3]
    assert not any(t.is_alive() for t in threads)
    assert len(succeeded) + len(refused) == THREADS
    assert set(refused) == {"insufficient_balance"}  # every refusal, and only refusals for want of funds
    assert len(succeeded) >= int(balance / amount)  # every hold that fitted went through
    total_held = sum((line.amount for split in open_holds for line in split), Decimal(0))
    [eth_balance] = customer_balances(customer=customer)
    assert eth_balance["held"] == total_held <= balance
    assert eth_balance["available"] + eth_balance["held"] == balance
    assert ledger_check() == []
