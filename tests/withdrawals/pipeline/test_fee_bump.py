"""Stuck transactions: staff bump the fee. On anvil (mining held back, so the first transaction
sits in the mempool) the same-nonce replacement lands and the first never does; on the BTC local
chain the RBF replacement re-spends the same inputs. Either way the order completes once, with the
fee actually paid by the landed candidate booked, and every candidate kept on the order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from chains.adapters.bitcoin.codec import btc_to_sat, sat_to_btc
from core.errors import DomainError
from ledger.selectors import tenant_fee_reserve
from ledger.services import ledger_fee_release, ledger_fee_reserve
from tests.fixtures.pipeline import (
    assert_kind_settled,
    assert_settled,
    btc_addresses,
    hot_nonce,
    make_btc_scene,
    sweep_until,
    transfers_to,
    units,
)
from withdrawals.models import HotWalletUtxo, WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.fee_bump import withdrawal_fee_bump
from withdrawals.pipeline.send import candidate_broadcast, pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep

S = WithdrawalOrder.Status
U = HotWalletUtxo.Status


@pytest.mark.chain
@pytest.mark.django_db
def test_evm_same_nonce_replacement_lands_once_and_books_its_own_fee(scene, demo_token, settings, monkeypatch):
    monkeypatch.setenv("HOT_KEY_ETH", scene.hot.key.hex())
    anvil = scene.anvil
    nonce_before = hot_nonce(anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    start_block = anvil.w3.eth.block_number

    with anvil.automine_off():  # nothing is mined until the test says so: the transaction is stuck
        order = scene.request("USDT", "42")
        scene.approve(order)
        assert pipeline_send(order_id=order.pk).outcome == "sent"
        (first,) = WithdrawalTransaction.objects.filter(order=order)
        pipeline_sweep()
        assert WithdrawalOrder.objects.get(pk=order.pk).status == S.CONFIRMING

        settings.PIPELINE_STUCK_AFTER_SECONDS = 600
        with pytest.raises(DomainError, match="not stuck"):
            withdrawal_fee_bump(order=order, actor=scene.approver, reason="too early")
        settings.PIPELINE_STUCK_AFTER_SECONDS = 0

        # The main account cannot cover the higher fee: refused, nothing changes.
        free = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
        ledger_fee_reserve(tenant=scene.tenant, currency="ETH", amount=free, reference="test:drain")
        with pytest.raises(DomainError) as refused:
            withdrawal_fee_bump(order=order, actor=scene.approver, reason="stuck")
        assert refused.value.code == "insufficient_main_account_fees"
        assert WithdrawalTransaction.objects.filter(order=order).count() == 1
        ledger_fee_release(tenant=scene.tenant, currency="ETH", amount=free, reference="test:undrain")

        bumped = withdrawal_fee_bump(order=order, actor=scene.approver, reason="stuck at a low fee")
        assert (bumped.state, bumped.nonce, bumped.fee_bump) == ("sent", first.nonce, 1)
        assert bumped.meta["max_fee_per_gas"] > first.meta["max_fee_per_gas"]
        order.refresh_from_db()
        assert order.fee_reserved == bumped.max_fee and order.tx_hash == bumped.tx_hash
        assert order.history.filter(actor=scene.approver, reason__contains="Fee bump #1").exists()

        # The old one sent again is refused by the node; only that candidate is affected.
        resent = candidate_broadcast(order, first, raise_transient=False)
        assert resent.outcome == "failed" and "underpriced" in resent.detail
        order.refresh_from_db()
        assert order.status == S.CONFIRMING and "underpriced" in order.last_error
        assert set(order.transactions.values_list("state", flat=True)) == {"sent"}

        anvil.mine()
        pipeline_sweep()
        anvil.mine()
        pipeline_sweep(stale_after=timedelta(0))

    order.refresh_from_db()
    assert order.status == S.COMPLETED
    assert dict(order.transactions.values_list("tx_hash", "state")) == {first.tx_hash: "replaced",
                                                                         bumped.tx_hash: "confirmed"}
    assert hot_nonce(anvil, scene.hot) == nonce_before + 1  # one transaction of the two landed
    transfers = transfers_to(anvil, demo_token, scene.recipient, from_block=start_block)
    assert [(t["transactionHash"].to_0x_hex(), t["args"]["value"]) for t in transfers] == [
        (bumped.tx_hash, units(Decimal("42"), 6))]
    assert_settled(scene, order, main_before=main_before)  # the bumped receipt's gasUsed × effectiveGasPrice


@pytest.mark.django_db
def test_btc_rbf_bump_from_the_admin_respends_the_same_inputs(btc_chain, admin_client, settings,
                                                              django_capture_on_commit_callbacks, monkeypatch):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 0
    scene = make_btc_scene()
    hot, recipient = btc_addresses()
    btc_chain.fund(hot, 20_000_000)
    btc_chain.fund(hot, 3_000_000)  # stays available: a replacement must not pick it up
    main_before = scene.fees()["main"]
    order = scene.request("0.15")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    (first,) = WithdrawalTransaction.objects.filter(order=order)

    from withdrawals.tasks import fee_bump

    with django_capture_on_commit_callbacks() as queued:  # the admin queues the bump for a worker
        response = admin_client.post(reverse("admin:withdrawals_withdrawalorder_changelist"), {
            "action": "bump_fee", "_selected_action": [order.pk], "apply": "1", "reason": "stuck in the mempool"})
    assert response.status_code == 302
    monkeypatch.setattr(fee_bump, "delay", lambda *args: fee_bump.apply(args=args))  # run as the worker would
    for callback in queued:
        callback()
    bumped = WithdrawalTransaction.objects.filter(order=order).exclude(pk=first.pk).get()
    assert bumped.state == "sent" and bumped.fee_bump == 1
    assert bumped.meta["inputs"] == first.meta["inputs"]
    assert bumped.meta["fee_sat"] > first.meta["fee_sat"]
    assert btc_chain.lookup(first.tx_hash) is None  # replaced in the mempool (BIP-125)
    (reserved,) = HotWalletUtxo.objects.filter(status=U.RESERVED)
    assert reserved.reserved_by == bumped
    assert HotWalletUtxo.objects.filter(status=U.PENDING).count() == 2  # either change may come true

    btc_chain.mine(2)
    order = sweep_until(order, S.COMPLETED, btc_chain.mine)
    assert dict(order.transactions.values_list("tx_hash", "state")) == {first.tx_hash: "replaced",
                                                                         bumped.tx_hash: "confirmed"}
    assert [u.value_sat for u in btc_chain.utxos(recipient)] == [btc_to_sat(Decimal("0.15"))]
    assert HotWalletUtxo.objects.get(origin=first).status == U.DROPPED
    assert HotWalletUtxo.objects.get(origin=bumped).status == U.AVAILABLE
    assert reserved.__class__.objects.get(pk=reserved.pk).status == U.SPENT
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=sat_to_btc(bumped.meta["fee_sat"]))


@pytest.mark.django_db
def test_a_bump_the_node_did_not_take_is_sent_again_by_the_sweep(btc_chain, settings, monkeypatch):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 0
    scene = make_btc_scene()
    hot, _ = btc_addresses()
    btc_chain.fund(hot, 20_000_000)
    order = scene.request("0.1")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    with monkeypatch.context() as patch:  # the bump's broadcast is lost (node unreachable)
        patch.setattr("withdrawals.pipeline.fee_bump.candidate_broadcast", lambda *args, **kwargs: None)
        bumped = withdrawal_fee_bump(order=order, actor=scene.approver, reason="stuck")
    assert bumped.state == "signed" and btc_chain.lookup(bumped.tx_hash) is None

    assert pipeline_sweep().resent == 1  # the old one pending, the bump unknown: the bump again
    assert btc_chain.lookup(bumped.tx_hash) is not None
    bumped.refresh_from_db()
    assert bumped.state == "sent"
    btc_chain.mine(2)
    order = sweep_until(order, S.COMPLETED, btc_chain.mine)
    assert order.transactions.get(state="confirmed") == bumped


def test_tron_has_no_fee_bump():
    from withdrawals.pipeline.kinds import KIND_SENDING

    assert [kind for kind, sending in KIND_SENDING.items() if sending.fee_bumps] == ["evm", "utxo"]
