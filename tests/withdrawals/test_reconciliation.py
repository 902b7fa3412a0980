"""Hot-wallet reconciliation (docs/PIPELINE.md, "Reconciliation") on a real anvil node: the
console's own withdrawals reconcile clean at every stage, a transfer made behind its back is
caught, pauses sending on the network until two Treasury members acknowledge it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from eth_account import Account
from web3 import Web3

from approvals.defaults import TREASURY
from approvals.models import WorkOrder
from approvals.services.work_orders import work_order_decide
from chains.adapters import coin_config
from chains.models import Currency, KillSwitchChange, Network
from chains.services import sending_pause_set
from core.errors import DomainError
from tests.fixtures.factories import StaffFactory
from tests.fixtures.pipeline import make_scene
from withdrawals.models import HotWalletOpening, ReconciliationAlert, WithdrawalOrder
from withdrawals.pipeline.send import pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.services.reconciliation import (
    hot_wallet_opening_record,
    reconciliation_alert_acknowledge,
    reconciliation_run,
)
from withdrawals.tasks import reconcile_hot_wallets

S = WithdrawalOrder.Status

HEALTH_TOKEN = "reconciliation-test-health-token"


@pytest.fixture
def wallet_scene(db, anvil, demo_token, monkeypatch):
    """A scene with a hot wallet of its own (nobody else's transactions move its balance)."""
    hot = anvil.new_wallet(eth=Decimal("10"), token=demo_token, usdt=Decimal("1000"))
    monkeypatch.setenv("HOT_KEY_ETH", hot.key.hex())
    scene = make_scene(anvil, hot, demo_token)
    scene.checker = StaffFactory()
    scene.checker.groups.add(Group.objects.get(name=TREASURY))
    return scene


def _record_openings(scene) -> None:
    """Opening balances as read from the chain now: recorded by one Treasury member, checked by another."""
    adapter = scene.anvil.adapter()
    for coin in (scene.eth, scene.usdt):
        amount = adapter.balance(coin_config(coin), scene.hot.address)
        opening = hot_wallet_opening_record(network=scene.network, address=scene.hot.address,
                                            currency=coin.currency, amount=amount, as_of=timezone.now(),
                                            actor=scene.treasurer, reason="counted on the chain")
        work_order = WorkOrder.objects.get(object_id=opening.pk, type="atm.va.hot_wallet_opening")
        with pytest.raises(DomainError) as refused:
            work_order_decide(work_order=work_order, actor=scene.treasurer, decision="approve")
        assert refused.value.code == "maker_cannot_approve"
        assert HotWalletOpening.objects.get(pk=opening.pk).status == "pending"
        work_order_decide(work_order=work_order, actor=scene.checker, decision="approve", comment="checked")
        assert HotWalletOpening.objects.get(pk=opening.pk).status == "active"
        [move] = opening.history.all()  # through the one transition recipe, audited
        assert (move.from_status, move.to_status, move.actor) == ("pending", "active", scene.checker)


def _outcomes() -> dict[str, str]:
    return {check.currency: check.outcome for check in reconciliation_run(network_code="ETH")}


def _steal(scene, amount: Decimal) -> None:
    """ETH sent from the hot key directly, with web3: the console knows nothing of it."""
    w3 = scene.anvil.w3
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tx = {"to": Account.create().address, "value": Web3.to_wei(amount, "ether"), "gas": 21_000, "type": 2,
          "nonce": w3.eth.get_transaction_count(scene.hot.address, "pending"), "chainId": w3.eth.chain_id,
          "maxPriorityFeePerGas": 1, "maxFeePerGas": 2 * base_fee + 1}
    signed = Account.sign_transaction(tx, scene.hot.key)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)


def _settle(scene, order) -> None:
    for _ in range(10):
        scene.anvil.mine(1)
        pipeline_sweep()
        order.refresh_from_db()
        if order.status == S.COMPLETED:
            return
    raise AssertionError(f"W{order.pk} did not complete: {order.status} {order.last_error}")


@pytest.mark.chain
@pytest.mark.django_db
def test_withdrawals_in_flight_and_settled_reconcile_clean(wallet_scene):
    scene = wallet_scene
    _record_openings(scene)
    assert _outcomes() == {"ETH": "ok", "USDT": "ok"}

    with scene.anvil.automine_off():  # signed and sent, still in the mempool: the chain has not moved
        eth_order, usdt_order = scene.request("ETH", "0.5"), scene.request("USDT", "25")
        for order in (eth_order, usdt_order):
            scene.approve(order)
            assert pipeline_send(order_id=order.pk).outcome == "sent"
        assert _outcomes() == {"ETH": "ok", "USDT": "ok"}
        scene.anvil.mine(1)  # included, below depth: the chain has moved, the orders are not settled
        pipeline_sweep()
        assert WithdrawalOrder.objects.get(pk=eth_order.pk).status == S.CONFIRMING
        assert _outcomes() == {"ETH": "ok", "USDT": "ok"}

    _settle(scene, eth_order)
    _settle(scene, usdt_order)
    checks = {c.currency: c for c in reconciliation_run(network_code="ETH")}
    assert {code: c.outcome for code, c in checks.items()} == {"ETH": "ok", "USDT": "ok"}
    assert checks["ETH"].expected_low == checks["ETH"].expected_high  # nothing in flight any more
    assert not ReconciliationAlert.objects.exists()
    assert not Network.objects.get(pk=scene.network.pk).sending_paused


@pytest.mark.chain
@pytest.mark.django_db
def test_a_transfer_behind_the_consoles_back_pauses_sending_until_two_staff_acknowledge(wallet_scene, client,
                                                                                       settings):
    settings.HEALTH_TOKEN = HEALTH_TOKEN  # the detail of /health/ is for staff and the monitor's token
    scene = wallet_scene
    _record_openings(scene)
    assert _outcomes() == {"ETH": "ok", "USDT": "ok"}

    _steal(scene, Decimal("1"))
    results = reconcile_hot_wallets.apply(kwargs={"network_code": "ETH"}).get()  # the beat task, in-process
    assert {r["currency"]: r["outcome"] for r in results} == {"ETH": "alert", "USDT": "ok"}
    alert = ReconciliationAlert.objects.get()
    assert alert.currency.code == "ETH" and alert.paused_sending and alert.acknowledged_at is None
    assert Decimal("-1.0001") < alert.difference < Decimal("-1")  # the 1 ETH and its fee
    assert Network.objects.get(pk=scene.network.pk).sending_paused
    # A second run does not raise a second alert for the same discrepancy.
    assert _outcomes()["ETH"] == "alert" and ReconciliationAlert.objects.count() == 1

    order = scene.request("ETH", "0.1")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "paused"
    assert WithdrawalOrder.objects.get(pk=order.pk).status == S.APPROVED

    health = client.get("/health/", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()
    assert health["status"] != "ok"
    assert health["reconciliation"]["ETH"]["status"] == "alert"
    assert f"RA{alert.pk}" in health["reconciliation"]["ETH"]["detail"]
    assert "holds" in health["reconciliation"]["ETH"]["detail"]

    with pytest.raises(DomainError) as no_reason:
        reconciliation_alert_acknowledge(alert=alert, actor=scene.treasurer, reason="  ")
    assert no_reason.value.code == "validation_error"
    reconciliation_alert_acknowledge(alert=alert, actor=scene.treasurer, reason="moved to cold storage, ticket 7")
    assert ReconciliationAlert.objects.get(pk=alert.pk).acknowledged_at is None  # one person is not enough
    assert Network.objects.get(pk=scene.network.pk).sending_paused
    assert pipeline_send(order_id=order.pk).outcome == "paused"
    with pytest.raises(DomainError) as twice:
        reconciliation_alert_acknowledge(alert=alert, actor=scene.treasurer, reason="again")
    assert twice.value.code == "already_decided"
    with pytest.raises(DomainError) as outsider:
        reconciliation_alert_acknowledge(alert=alert, actor=scene.approver, reason="not Treasury")
    assert outsider.value.code == "permission_denied"

    reconciliation_alert_acknowledge(alert=alert, actor=scene.checker, reason="confirmed with the ticket")
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and "ticket 7" in alert.acknowledged_reason
    assert not Network.objects.get(pk=scene.network.pk).sending_paused
    resumed = KillSwitchChange.objects.filter(network=scene.network).order_by("-at", "-id").first()
    assert not resumed.paused and resumed.actor == scene.checker and f"RA{alert.pk}" in resumed.reason
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()["reconciliation"]["ETH"]["status"] == "ok"
    assert pipeline_send(order_id=order.pk).outcome == "sent"


@pytest.mark.chain
@pytest.mark.django_db
def test_acknowledging_leaves_a_pause_staff_set_for_their_own_reasons(wallet_scene):
    scene = wallet_scene
    _record_openings(scene)
    sending_pause_set(network=scene.network, paused=True, actor=scene.approver, reason="node upgrade tonight")
    _steal(scene, Decimal("0.5"))
    assert _outcomes()["ETH"] == "alert"
    alert = ReconciliationAlert.objects.get()
    assert not alert.paused_sending  # it was paused already, by staff
    reconciliation_alert_acknowledge(alert=alert, actor=scene.treasurer, reason="known")
    reconciliation_alert_acknowledge(alert=alert, actor=scene.checker, reason="known")
    assert ReconciliationAlert.objects.get(pk=alert.pk).acknowledged_at is not None
    assert Network.objects.get(pk=scene.network.pk).sending_paused  # staff's pause stays


@pytest.mark.chain
@pytest.mark.django_db
def test_without_an_opening_balance_a_wallet_is_reported_not_alerted(wallet_scene):
    assert _outcomes() == {"ETH": "no_opening", "USDT": "no_opening"}
    assert not ReconciliationAlert.objects.exists()
    assert not Network.objects.get(pk=wallet_scene.network.pk).sending_paused


@pytest.mark.django_db
def test_the_beat_schedule_is_a_periodic_task_row_every_ten_minutes():
    task = PeriodicTask.objects.get(task="withdrawals.reconcile_hot_wallets")
    assert task.enabled and task.interval.every == 600 and task.interval.period == "seconds"


@pytest.mark.django_db
def test_an_opening_needs_a_reason_and_staff():
    from tests.fixtures.factories import NetworkFactory

    network = NetworkFactory(code="ETH")
    currency = Currency.objects.get(pk=network.native_currency_id)
    with pytest.raises(DomainError) as refused:
        hot_wallet_opening_record(network=network, address="0x" + "ab" * 20, currency=currency, amount=Decimal("1"),
                                  as_of=timezone.now(), actor=StaffFactory(), reason="")
    assert refused.value.code == "validation_error"
    assert not HotWalletOpening.objects.exists()
