"""The pipeline's waits, with the real worker: the node unreachable, the main account short,
the kill switches."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from chains.models import KillSwitchChange, Network
from chains.services import sending_pause_set
from core.embedded import free_port
from ledger.selectors import ledger_check, tenant_fee_reserve
from tests.fixtures.factories import StaffFactory
from tests.fixtures.pipeline import (
    assert_settled,
    hot_nonce,
    make_scene,
    mine_and_sweep,
    sweep_via_worker,
    wait_for,
    wait_status,
)
from withdrawals.models import WithdrawalOrder
from withdrawals.services.orders import withdrawal_resubmit
from withdrawals.tasks import withdrawal_send

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status


def _point_rpc(network: Network, url: str) -> None:
    Network.objects.filter(pk=network.pk).update(rpc_url=url)


def test_rpc_unreachable_tasks_retry_with_backoff_and_nothing_moves(scene, pipeline_worker):
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    _point_rpc(scene.network, f"http://127.0.0.1:{free_port()}")  # nobody listens there
    order = scene.request("ETH", "0.25")
    scene.approve(order)

    seen = []

    def attempt():
        row = WithdrawalOrder.objects.get(pk=order.pk)
        if "unreachable" in row.last_error and row.updated_at not in seen:
            seen.append(row.updated_at)
        return len(seen) >= 2

    wait_for(attempt, seconds=20, what="two attempts against the dead node")  # retried, with a delay
    order.refresh_from_db()
    assert order.status == S.APPROVED and order.fee_reserved == 0 and not order.transactions.exists()
    assert tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["reserved"] == 0

    _point_rpc(scene.network, scene.anvil.url)  # the node is back: the next retry goes through
    order = wait_status(order, S.CONFIRMING, seconds=40)

    _point_rpc(scene.network, f"http://127.0.0.1:{free_port()}")  # down again while confirming
    scene.anvil.mine(3)
    report = sweep_via_worker()
    assert report["errors"] and "unreachable" in report["errors"][0]
    assert WithdrawalOrder.objects.get(pk=order.pk).status == S.CONFIRMING

    _point_rpc(scene.network, scene.anvil.url)
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert_settled(scene, order, main_before=main_before)


def test_short_main_account_waits_in_awaiting_fee_until_topped_up_and_resubmitted(
        db, anvil, pipeline_hot_wallet, demo_token, pipeline_worker):
    scene = make_scene(anvil, pipeline_hot_wallet, demo_token, main_account=Decimal("0"))
    nonce_before = hot_nonce(anvil, pipeline_hot_wallet)
    order = scene.request("ETH", "0.5")
    scene.approve(order)
    order = wait_status(order, S.AWAITING_FEE)
    assert order.last_error == "Insufficient main account fees"
    assert not order.transactions.exists() and hot_nonce(anvil, pipeline_hot_wallet) == nonce_before

    scene.top_up(Decimal("0.05"))  # through its work order, approved by Treasury
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    assert main_before == Decimal("0.05")
    withdrawal_resubmit(order=order, actor=StaffFactory())
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(anvil))
    assert hot_nonce(anvil, pipeline_hot_wallet) == nonce_before + 1
    assert scene.recipient_balance(scene.eth) == Decimal("0.5")
    assert_settled(scene, order, main_before=main_before)


@pytest.mark.parametrize("scope", ["network", "global"])
def test_kill_switch_holds_approved_orders_until_lifted(scene, pipeline_worker, scope):
    staff = StaffFactory()
    network = scene.network if scope == "network" else None
    assert sending_pause_set(network=network, paused=True, actor=staff, reason="node upgrade")
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    order = scene.request("ETH", "0.1")
    scene.approve(order)
    # The task of the approval and one more: both find sending paused and leave the order as it is.
    assert withdrawal_send.delay(order.pk).get(timeout=20)["outcome"] == "paused"
    time.sleep(0.5)
    order.refresh_from_db()
    assert order.status == S.APPROVED and not order.transactions.exists()
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before

    assert sending_pause_set(network=network, paused=False, actor=staff, reason="upgrade done")
    wait_status(order, S.CONFIRMING)  # lifting the switch started the approved orders again
    changes = list(KillSwitchChange.objects.order_by("id").values_list("network_id", "paused", "actor_id", "reason"))
    net_id = scene.network.pk if network else None
    assert changes == [(net_id, True, staff.pk, "node upgrade"), (net_id, False, staff.pk, "upgrade done")]
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert ledger_check() == []
