"""BTC on the send pipeline, through bitcoinlib's ``bitcoinlib_test`` local chain: request →
approval → send → confirmations → completed, the hot wallet's UTXOs tracked in our database
(inputs reserved then spent, change recorded and made available), two orders signed at the same
time never spending the same output."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from chains.adapters import adapter_for
from chains.adapters.bitcoin.codec import InsufficientFunds, btc_to_sat, sat_to_btc
from tests.fixtures.factories import btc_network
from tests.fixtures.pipeline import assert_kind_settled, btc_addresses, make_btc_scene, sweep_until
from withdrawals.models import HotWalletUtxo, WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.pipeline.utxos import utxo_sync

S = WithdrawalOrder.Status
U = HotWalletUtxo.Status
HOT, RECIPIENT = btc_addresses()


def utxos(status=None):
    rows = HotWalletUtxo.objects.filter(address=HOT)
    return list(rows.filter(status=status) if status else rows)


@pytest.mark.django_db
def test_btc_withdrawal_completes_on_the_local_chain_with_change_and_utxos_tracked(btc_chain):
    scene = make_btc_scene()
    funding = btc_chain.fund(HOT, 30_000_000)  # 0.3 BTC, mined
    main_before = scene.fees()["main"]

    order = scene.request("0.1")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    order.refresh_from_db()
    assert order.status == S.CONFIRMING
    candidate = WithdrawalTransaction.objects.get(order=order)
    fee_sat = candidate.meta["fee_sat"]
    # The funding output (synced from the node) is reserved by the candidate, its change is pending.
    (spent,) = utxos(U.RESERVED)
    assert (spent.txid, spent.vout, spent.reserved_by) == (funding.txid, 0, candidate)
    (change,) = utxos(U.PENDING)
    assert (change.txid, change.origin) == (candidate.tx_hash, candidate)
    assert change.value_sat == 30_000_000 - 10_000_000 - fee_sat

    btc_chain.mine()
    pipeline_sweep()
    order.refresh_from_db()
    assert (order.status, order.confirmations) == (S.CONFIRMING, 1)  # BTC coin: 2 required
    btc_chain.mine()
    order = sweep_until(order, S.COMPLETED, btc_chain.mine)

    # On chain: the recipient got exactly the amount, the change went back to the hot wallet.
    assert [u.value_sat for u in btc_chain.utxos(RECIPIENT)] == [btc_to_sat(Decimal("0.1"))]
    assert [(u.txid, u.value_sat) for u in btc_chain.utxos(HOT)] == [(candidate.tx_hash, change.value_sat)]
    # In our database: the input spent by the confirmed transaction, the change available.
    spent.refresh_from_db()
    change.refresh_from_db()
    assert (spent.status, spent.spent_txid) == (U.SPENT, candidate.tx_hash)
    assert change.status == U.AVAILABLE
    assert utxo_sync(network=scene.network, address=HOT) == {"added": 0, "spent": 0, "revived": 0}
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=sat_to_btc(fee_sat))
    assert order.tx_hash == candidate.tx_hash and order.fee_paid == candidate.max_fee


@pytest.mark.django_db
def test_a_second_order_waits_for_the_change_rather_than_spend_an_unconfirmed_output(btc_chain):
    scene = make_btc_scene()
    btc_chain.fund(HOT, 30_000_000)
    first, second = scene.request("0.1", key="a"), scene.request("0.05", key="b")
    scene.approve(first)
    scene.approve(second)
    assert pipeline_send(order_id=first.pk).outcome == "sent"
    with pytest.raises(InsufficientFunds):  # InsufficientFunds, transient: retried later
        pipeline_send(order_id=second.pk)
    second.refresh_from_db()
    assert second.status == S.APPROVED and "do not cover" in second.last_error
    assert scene.fees()["reserved"] == WithdrawalOrder.objects.get(pk=first.pk).fee_reserved  # rolled back

    btc_chain.mine()
    pipeline_sweep()  # the first one is in a block: its change becomes spendable once it confirms
    btc_chain.mine()
    sweep_until(first, S.COMPLETED, btc_chain.mine)
    assert pipeline_send(order_id=second.pk).outcome == "sent"
    (candidate,) = WithdrawalTransaction.objects.filter(order=second)
    assert [i["txid"] for i in candidate.meta["inputs"]] == [first.transactions.get().tx_hash]


@pytest.mark.django_db(transaction=True)
def test_two_orders_signed_at_once_never_pick_the_same_utxo(btc_chain, monkeypatch):
    from withdrawals.tasks import withdrawal_send

    # Committed approvals start the send task on commit: keep it away from a session worker, the
    # two threads below are the two workers.
    monkeypatch.setattr(withdrawal_send, "delay", lambda *args, **kwargs: None)
    scene = make_btc_scene()
    for sat in (40_000_000, 35_000_000, 5_000_000):
        btc_chain.fund(HOT, sat)
    orders = [scene.request("0.1", key=f"k{n}") for n in range(2)]
    for order in orders:
        scene.approve(order)
    results, barrier = {}, threading.Barrier(2)

    def send(order_id):
        try:
            barrier.wait()
            results[order_id] = pipeline_send(order_id=order_id).outcome
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(o.pk,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == ["sent", "sent"]
    inputs = [(i["txid"], i["vout"]) for tx in WithdrawalTransaction.objects.filter(order__in=orders)
              for i in tx.meta["inputs"]]
    assert len(inputs) == len(set(inputs)) == 2  # largest first, but never the same one twice
    assert {u.value_sat for u in utxos(U.RESERVED)} == {40_000_000, 35_000_000}
    assert {u.value_sat for u in utxos(U.AVAILABLE)} == {5_000_000}

    btc_chain.mine(2)
    for order in orders:
        sweep_until(order, S.COMPLETED, btc_chain.mine)
    assert sorted(u.value_sat for u in btc_chain.utxos(RECIPIENT)) == [10_000_000, 10_000_000]
    assert not utxos(U.RESERVED) and len(utxos(U.SPENT)) == 2 and len(utxos(U.AVAILABLE)) == 3


@pytest.mark.django_db
def test_sync_records_confirmed_deposits_only_and_notices_outputs_spent_elsewhere(btc_chain):
    network = btc_network()
    funded = btc_chain.fund(HOT, 1_000_000)
    backend = adapter_for(network).backend
    assert utxo_sync(network=network, address=HOT) == {"added": 1, "spent": 0, "revived": 0}
    assert utxo_sync(network=network, address=HOT)["added"] == 0  # idempotent
    # Spent outside the console (e.g. a sweep to cold storage): the node stops listing it.
    state_path = btc_chain.directory / btc_chain.STATE_FILE


    state = json.loads(state_path.read_text())
    state["outputs"][f"{funded.txid}:0"]["spent_by"] = "ff" * 32
    state["txs"]["ff" * 32] = {"raw": None, "fee_sat": 0, "inputs": [], "rbf": False, "block_height": 1,
                               "block_hash": "00" * 32}
    state_path.write_text(json.dumps(state))
    assert utxo_sync(network=network, address=HOT, backend=backend)["spent"] == 1
    assert HotWalletUtxo.objects.get().status == U.SPENT
