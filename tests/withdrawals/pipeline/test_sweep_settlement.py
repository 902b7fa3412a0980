"""The sweep settles the completions of one batch together (``withdrawal_complete_batch``): one
transaction, one ``ledger_settle_batch`` and one ``ledger_fee_book_batch`` call, each order
through the ``complete`` move with its audit row; a refused batch falls back to one by one.
In-process against a real anvil node."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.sweep_bench import bulk_confirming_orders
from chains.adapters import adapter_for
from chains.models import Network
from ledger.models import JournalEntry
from ledger.selectors import account_balance, ledger_check
from ledger.services import HoldLine, ledger_deposit, ledger_hold, ledger_settle, ledger_transfer
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.services.sending import withdrawal_complete_batch, withdrawal_rebroadcast

pytestmark = [pytest.mark.chain, pytest.mark.django_db]
S = WithdrawalOrder.Status
AMOUNT = Decimal("0.01")


@pytest.fixture
def coin(anvil):
    coin = CoinFactory(confirmations=1, customer_fee=Decimal("0.001"))
    Network.objects.filter(pk=coin.network_id).update(rpc_url=anvil.url, chain_id=anvil.chain_id)
    coin.network.refresh_from_db()
    return coin


def _deep_orders(anvil, coin, count: int) -> list[WithdrawalOrder]:
    """``count`` confirming orders, each with a real hold, a customer fee and its own real
    transaction (a sent candidate), mined deep enough to complete."""
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, network=coin.network)
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=AMOUNT * count,
                   reference=f"dep-{customer.pk}")
    ledger_transfer(tenant=customer.tenant, currency="ETH", amount=Decimal("1"), kind="main_topup",
                    reference=f"top-{customer.pk}")
    sender = anvil.accounts[1].address
    hashes = [anvil.w3.eth.send_transaction({"from": sender, "to": anvil.accounts[2].address, "value": 1}).to_0x_hex()
              for _ in range(count)]
    ids = bulk_confirming_orders(coin=coin, customer=customer, address=address, tx_hashes=hashes, count=count,
                                 amount=AMOUNT - coin.customer_fee)
    for order_id, tx_hash in zip(ids, hashes, strict=True):
        split = ledger_hold(customer=customer, currency="ETH", amount=AMOUNT, reference=f"withdrawal:{order_id}:hold")
        WithdrawalOrder.objects.filter(pk=order_id).update(split=[line.as_dict() for line in split],
                                                          customer_fee=coin.customer_fee)
        WithdrawalTransaction.objects.create(order_id=order_id, tx_hash=tx_hash, raw="0x00", sender=sender,
                                             nonce=order_id, max_fee=Decimal("0.001"), state="sent",
                                             ever_accepted=True)
    anvil.mine(2)
    return list(WithdrawalOrder.objects.filter(pk__in=ids).select_related("customer").order_by("id"))


def _held(order) -> Decimal:
    return account_balance(customer=order.customer, currency="ETH", kind="customer_held",
                           instrument=order.split[0]["instrument"])


def _settled_once(order) -> None:
    order.refresh_from_db()
    assert order.status == S.COMPLETED and order.fee_reserved == 0 and order.fee_paid > 0
    assert JournalEntry.objects.filter(reference=f"withdrawal:{order.pk}:settle").count() == 1
    assert JournalEntry.objects.filter(reference=f"withdrawal:{order.pk}:fee-book").count() == 1
    history = list(WithdrawalStatusChange.objects.filter(order=order, to_status=S.COMPLETED))
    assert len(history) == 1 and history[0].from_status == S.CONFIRMING
    assert history[0].actor is None and history[0].reason == f"{order.confirmations} confirmations: credited"
    assert list(order.transactions.values_list("state", flat=True)) == ["confirmed"]


def _ledger_calls(queries) -> dict[str, int]:
    """How many times the sweep called each posting function."""
    calls = {}
    for function in ("ledger_post_settle_batch", "ledger_post_settle", "ledger_post_fee_book_batch",
                     "ledger_post_fee_book"):
        calls[function] = sum(f"{function}(" in q["sql"] for q in queries)
    return calls


def test_a_batchs_completions_settle_in_one_ledger_call(anvil, coin):
    orders = _deep_orders(anvil, coin, 6)
    with CaptureQueriesContext(connection) as sweep:
        report = pipeline_sweep(batch_size=4)  # two batches: 4 + 2
    assert report.completed == 6 and report.batches == 2 and not report.errors
    assert _ledger_calls(sweep.captured_queries) == {  # one call of each per batch, none one by one
        "ledger_post_settle_batch": 2, "ledger_post_settle": 0, "ledger_post_fee_book_batch": 2,
        "ledger_post_fee_book": 0}
    for order in orders:
        _settled_once(order)
        assert _held(order) == 0  # the hold went out with the settlement, nothing left, nothing lost
    assert ledger_check() == []
    assert pipeline_sweep().completed == 0  # nothing left to do: nothing settled twice


def test_queries_per_completion_do_not_grow_with_the_batch(anvil, coin):
    counts = {}
    for size in (2, 8):
        _deep_orders(anvil, coin, size)
        with CaptureQueriesContext(connection) as sweep:
            assert pipeline_sweep().completed == size
        counts[size] = len(sweep)
    per_order = (counts[8] - counts[2]) / 6
    assert per_order == int(per_order) and per_order <= 12, counts  # fee book, candidates, the move
    assert ledger_check() == []


def test_a_settlement_already_posted_is_replayed_not_posted_twice(anvil, coin):
    first, second = _deep_orders(anvil, coin, 2)
    # As if a settlement had been posted under the order's reference by an earlier attempt:
    ledger_settle(customer=first.customer, currency="ETH", split=[HoldLine.from_dict(x) for x in first.split],
                  customer_fee=first.customer_fee, reference=f"withdrawal:{first.pk}:settle")
    revenue = account_balance(tenant=first.customer.tenant, currency="ETH", kind="fee_revenue")
    assert pipeline_sweep().completed == 2
    for order in (first, second):
        _settled_once(order)
    # only the second order's fee is new revenue: the first one's posting was replayed
    assert account_balance(tenant=first.customer.tenant, currency="ETH", kind="fee_revenue") == (
        revenue + second.customer_fee)
    assert ledger_check() == []


def test_a_refused_posting_settles_the_others_one_by_one(anvil, coin, caplog):
    orders = _deep_orders(anvil, coin, 3)
    bad = orders[1]
    # Its split names an instrument the customer holds nothing on: the ledger refuses its settlement.
    WithdrawalOrder.objects.filter(pk=bad.pk).update(split=[{"instrument": "VA/HAS/ETHHKD", "amount": str(AMOUNT)}])
    with caplog.at_level(logging.WARNING, logger="withdrawals.pipeline.sweep"):
        report = pipeline_sweep()
    assert "completions was refused" in caplog.text and "settling them one by one" in caplog.text
    assert report.completed == 2 and report.errors == [report.errors[0]] and report.errors[0].startswith(f"W{bad.pk}:")
    for order in (orders[0], orders[2]):
        _settled_once(order)
    bad.refresh_from_db()
    assert bad.status == S.CONFIRMING
    assert _held(orders[0]) == AMOUNT  # what the customer still has held is the refused order's hold, intact
    assert not JournalEntry.objects.filter(reference=f"withdrawal:{bad.pk}:settle").exists()
    assert ledger_check() == []


def test_an_order_whose_state_moved_is_left_out_of_the_batch(anvil, coin):
    first, moved, third = _deep_orders(anvil, coin, 3)
    statuses = adapter_for(coin.network).tx_statuses([o.tx_hash for o in (first, moved, third)])
    withdrawal_rebroadcast(order=moved.pk, reason="left the chain meanwhile")  # no longer confirming
    done = withdrawal_complete_batch(completions={o.pk: statuses[o.tx_hash] for o in (third, moved, first)})
    assert [o.pk for o in done] == [first.pk, third.pk]  # in id order
    for order in (first, third):
        _settled_once(order)
    moved.refresh_from_db()
    assert moved.status == S.BROADCASTING and _held(moved) == AMOUNT
    assert not JournalEntry.objects.filter(reference=f"withdrawal:{moved.pk}:settle").exists()
    assert ledger_check() == []
