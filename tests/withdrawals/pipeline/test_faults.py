"""The worker SIGKILLed at the worst moments; after a restart each order completes with exactly
one transaction on chain and the ledger holds (``WDC_FAULT_FILE``, see withdrawals.pipeline.faults)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.selectors import ledger_check, tenant_fee_reserve
from tests.fixtures.pipeline import (
    arm_fault,
    assert_settled,
    hot_nonce,
    mine_and_sweep,
    sweep_via_worker,
    wait_for,
    wait_status,
)
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status


def _killed(worker) -> None:
    wait_for(lambda: not worker.alive, what="the worker to kill itself")


def test_killed_after_signing_before_sending(scene, pipeline_worker, fault_file):
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    arm_fault(fault_file, "after_sign")
    order = scene.request("ETH", "0.3")
    scene.approve(order)
    _killed(pipeline_worker)

    order.refresh_from_db()
    assert order.status == S.BROADCASTING  # stored, committed, never sent
    stored = WithdrawalTransaction.objects.get(order=order)
    assert stored.state == "signed" and order.tx_hash == stored.tx_hash
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before  # nothing reached the chain

    pipeline_worker.restart()
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))  # the sweep re-sends it
    assert WithdrawalTransaction.objects.get(order=order).tx_hash == stored.tx_hash  # never signed again
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert scene.recipient_balance(scene.eth) == Decimal("0.3")
    assert_settled(scene, order, main_before=main_before)


def test_killed_after_sending_before_saving(scene, pipeline_worker, fault_file):
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    arm_fault(fault_file, "after_send")
    order = scene.request("ETH", "0.4")
    scene.approve(order)
    _killed(pipeline_worker)

    order.refresh_from_db()
    assert order.status == S.BROADCASTING  # the node has it (anvil mined it), we never wrote so
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1

    pipeline_worker.restart()
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    assert order.transactions.count() == 1
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1  # the re-send was the same tx
    assert scene.recipient_balance(scene.eth) == Decimal("0.4")
    assert_settled(scene, order, main_before=main_before)


def test_killed_during_the_sweep(scene, pipeline_worker, fault_file, otp_bypass):  # 3 requests > a TOTP window
    """SIGKILL right after the first batch's completions committed (batches of two here): both of
    that batch are completed together, the third, in the next batch, is untouched; the next sweep
    completes it and settles nothing twice."""
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    orders = [scene.request("ETH", amount, key=key) for amount, key in (("0.2", "a"), ("0.3", "b"), ("0.1", "c"))]
    for order in orders:
        scene.approve(order)
    for order in orders:
        wait_status(order, S.CONFIRMING)
    scene.anvil.mine(3)  # all deep enough: the sweep completes them, two per batch
    arm_fault(fault_file, "during_sweep")
    from withdrawals.tasks import sweep_confirmations

    sweep_confirmations.delay(stale_after=0, batch_size=2)
    _killed(pipeline_worker)
    statuses = list(WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders]).order_by("id")
                    .values_list("status", flat=True))
    assert statuses == [S.COMPLETED, S.COMPLETED, S.CONFIRMING]  # the first batch committed as one

    pipeline_worker.restart()
    sweep_via_worker()
    for order in orders:
        order = wait_status(order, S.COMPLETED)
        assert order.transactions.filter(state="confirmed").count() == 1
        assert list(order.history.values_list("to_status", flat=True)).count(S.COMPLETED) == 1
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 3
    assert scene.recipient_balance(scene.eth) == Decimal("0.6")
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["reserved"] == 0 and fee["revenue"] == Decimal("0.003")  # each settled once
    assert ledger_check() == []


def _requeue_via_worker() -> list[int]:
    from withdrawals.tasks import requeue_approved

    return requeue_approved.delay(older_than=0).get(timeout=20)


def test_killed_inside_the_settlement_of_a_completion(scene, pipeline_worker, fault_file):
    """SIGKILL between the ledger postings of a batch of completions and their commit: all of the
    batch rolls back, both orders are still confirming, and the next sweep settles each exactly once."""
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    orders = [scene.request("ETH", "0.25", key="a"), scene.request("ETH", "0.05", key="b")]
    for order in orders:
        scene.approve(order)
    for order in orders:
        wait_status(order, S.CONFIRMING)
    scene.anvil.mine(3)  # both deep enough: settled in one batch
    arm_fault(fault_file, "in_settlement")
    from withdrawals.tasks import sweep_confirmations

    sweep_confirmations.delay(stale_after=0)
    _killed(pipeline_worker)
    for order in orders:
        order.refresh_from_db()
        assert order.status == S.CONFIRMING and order.fee_reserved > 0  # nothing of the settlement kept
        assert order.transactions.filter(state="confirmed").count() == 0
    assert tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["revenue"] == 0
    assert ledger_check() == []

    pipeline_worker.restart()
    sweep_via_worker()
    fees = Decimal(0)
    for order in orders:
        order = wait_status(order, S.COMPLETED)
        assert list(order.history.values_list("to_status", flat=True)).count(S.COMPLETED) == 1
        receipt = scene.anvil.w3.eth.get_transaction_receipt(order.tx_hash)
        actual = Decimal(receipt["gasUsed"] * receipt["effectiveGasPrice"]).scaleb(-18)
        assert order.fee_paid == actual and order.fee_reserved == 0
        assert order.transactions.filter(state="confirmed").count() == 1
        fees += actual
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["revenue"] == Decimal("0.002") and fee["reserved"] == 0
    assert fee["main"] == main_before - fees  # each fee booked once
    assert ledger_check() == []


def test_database_connection_killed_while_the_signed_transaction_is_stored(scene, pipeline_worker, fault_file):
    """pg_terminate_backend on the worker's connection inside the sign-and-store transaction: the
    claim, the fee reserve and the signature roll back with it; nothing reached the node. The
    requeue task sends the order later, once."""
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    arm_fault(fault_file, "in_sign_transaction:pg_terminate")
    order = scene.request("ETH", "0.35")
    scene.approve(order)
    wait_for(lambda: not fault_file.exists(), what="the worker to reach the fault point")
    order.refresh_from_db()
    assert order.status == S.APPROVED and order.fee_reserved == 0
    assert not WithdrawalTransaction.objects.filter(order=order).exists()
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before
    assert tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["reserved"] == 0
    assert pipeline_worker.alive  # the worker reconnects for its next task (after the failed one)
    assert order.pk in _requeue_via_worker()
    order = wait_status(order, S.CONFIRMING, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    assert order.transactions.count() == 1
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert scene.recipient_balance(scene.eth) == Decimal("0.35")
    assert_settled(scene, order, main_before=main_before)


def test_database_connection_killed_inside_the_settlement(scene, pipeline_worker, fault_file):
    """pg_terminate_backend mid-settlement (the sweep's transaction): rolled back by the server,
    the sweep's advisory lock released with the connection, the next sweep settles once."""
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    order = scene.request("ETH", "0.15")
    scene.approve(order)
    wait_status(order, S.CONFIRMING)
    scene.anvil.mine(3)
    arm_fault(fault_file, "in_settlement:pg_terminate")
    from withdrawals.tasks import sweep_confirmations

    with pytest.raises(Exception):  # noqa: B017,PT011 - the sweep task fails on the dead connection
        sweep_confirmations.delay(stale_after=0).get(timeout=20)
    assert not fault_file.exists()
    order.refresh_from_db()
    assert order.status == S.CONFIRMING and order.fee_reserved > 0
    assert ledger_check() == []

    sweep_via_worker()
    order = wait_status(order, S.COMPLETED)
    assert list(order.history.values_list("to_status", flat=True)).count(S.COMPLETED) == 1
    assert tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["revenue"] == Decimal("0.001")
    assert_settled(scene, order, main_before=main_before)
