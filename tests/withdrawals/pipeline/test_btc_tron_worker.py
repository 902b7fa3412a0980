"""BTC and TRON through the real Celery worker: App request → approval → sent by the worker (the
send task starts on commit) → confirmations counted by the worker's sweeps → completed, the
ledger settled. The worker sees the test's offline chains (bitcoinlib's local test chain, the
recorded TRON node) and hot keys through its environment (``offline_chain_worker``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chains.adapters.bitcoin.codec import btc_to_sat, sat_to_btc
from chains.adapters.tron.codec import address_from_private_key
from tests.fixtures.pipeline import (
    TRON_HOT_KEY,
    assert_kind_settled,
    btc_addresses,
    fee_of,
    make_btc_scene,
    sweep_via_worker,
    tron_scene,
    wait_status,
)
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status
HISTORY = ["pending_approval", "approved", "broadcasting", "confirming", "completed"]


def test_btc_withdrawal_is_sent_by_the_worker_and_completes(offline_chain_worker, btc_chain):
    hot, recipient = btc_addresses()
    scene = make_btc_scene()
    btc_chain.fund(hot, 30_000_000)  # 0.3 BTC, mined
    main_before = scene.fees()["main"]

    order = scene.request("0.1")
    scene.approve(order)  # committed: the worker's send task signs and broadcasts
    order = wait_status(order, S.CONFIRMING, S.COMPLETED)
    candidate = WithdrawalTransaction.objects.get(order=order)
    assert btc_chain.lookup(candidate.tx_hash) is not None  # on the test's chain, from the worker

    def mine_and_sweep() -> None:
        btc_chain.mine()
        sweep_via_worker()

    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep)

    assert [u.value_sat for u in btc_chain.utxos(recipient)] == [btc_to_sat(Decimal("0.1"))]
    candidate.refresh_from_db()
    assert order.tx_hash == candidate.tx_hash and candidate.state == "confirmed"
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=sat_to_btc(candidate.meta["fee_sat"]))
    assert list(order.history.values_list("to_status", flat=True)) == HISTORY


def test_trc20_usdt_withdrawal_is_sent_by_the_worker_and_completes(offline_chain_worker, tron_chain):
    scene = tron_scene()
    main_before = scene.fees()["main"]

    order = scene.request("150.25")
    scene.approve(order)
    order = wait_status(order, S.CONFIRMING, S.COMPLETED)
    candidate = WithdrawalTransaction.objects.get(order=order)
    assert candidate.sender == address_from_private_key(TRON_HOT_KEY)  # the worker signed with HOT_KEY_TRON

    def advance_and_sweep() -> None:
        tron_chain.advance(1)
        sweep_via_worker()

    order = wait_status(order, S.COMPLETED, tick=advance_and_sweep)

    assert WithdrawalTransaction.objects.filter(order=order).count() == 1
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=fee_of(tron_chain, candidate.tx_hash))
    assert list(order.history.values_list("to_status", flat=True)) == HISTORY
