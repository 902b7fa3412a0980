"""A shallowly confirmed transaction leaves the chain (anvil snapshot/revert): the order goes back
to broadcasting, the same signed transaction is sent again, and the order completes once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fixtures.pipeline import (
    assert_settled,
    hot_nonce,
    mine_and_sweep,
    sweep_via_worker,
    wait_status,
)
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status


def test_reorged_out_transaction_is_sent_again_and_completes_once(scene, pipeline_worker):
    from ledger.selectors import tenant_fee_reserve

    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    snapshot = scene.anvil.snapshot()
    order = scene.request("ETH", "0.7")
    scene.approve(order)
    wait_status(order, S.CONFIRMING)
    sweep_via_worker()
    order.refresh_from_db()
    assert order.confirmations == 1 and order.block_hash  # shallow: 1 of 2
    first_block = order.block_hash

    scene.anvil.revert(snapshot)  # the block with our transaction is gone
    scene.anvil.mine(2)  # the chain goes on without it
    assert scene.anvil.w3.eth.get_transaction_count(scene.hot.address) == nonce_before
    sweep_via_worker()  # not found → back to broadcasting → the stored bytes sent again → confirming
    order = wait_status(order, S.CONFIRMING)
    history = list(order.history.values_list("from_status", "to_status"))
    assert ("confirming", "broadcasting") in history

    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    assert order.block_hash != first_block
    assert WithdrawalTransaction.objects.filter(order=order).count() == 1  # never signed again
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert scene.recipient_balance(scene.eth) == Decimal("0.7")
    assert_settled(scene, order, main_before=main_before)
