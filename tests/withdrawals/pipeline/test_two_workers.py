"""Two Celery workers on one queue, as on two hosts (separate processes, their own connections),
with every send delivered twice and sweeps overlapping: each order reaches the chain once and is
settled once (docs/SCALING.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.selectors import ledger_check, tenant_fee_reserve
from tests.fixtures.pipeline import hot_nonce, wait_for
from tests.fixtures.worker import CeleryWorkerProcess
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status
ORDERS = 6


@pytest.fixture
def second_worker(pipeline_worker, tmp_path):
    """Another worker process on the same queue, database and Redis, named as another host."""
    worker = CeleryWorkerProcess(queue=pipeline_worker.queue, env=dict(pipeline_worker.env),
                                 log_path=tmp_path / "second-worker.log", name="host-b")
    worker.start()
    yield worker
    worker.stop()


def test_two_workers_and_overlapping_sweeps_send_and_settle_each_order_once(scene, pipeline_worker, second_worker,
                                                                          otp_bypass):
    from withdrawals.tasks import sweep_confirmations, withdrawal_send

    nonce_before = hot_nonce(scene.anvil, scene.hot)
    amounts = [Decimal("0.05") * (i + 1) for i in range(ORDERS)]
    orders = [scene.request("ETH", str(amount), key=f"two-workers-{i}") for i, amount in enumerate(amounts)]
    with scene.anvil.automine_off():  # everything lands in the same blocks: the sweeps overlap on it
        for order in orders:
            scene.approve(order)  # one send per order, on commit
            withdrawal_send.delay(order.pk)  # and a duplicate delivery, which the other worker may take
        wait_for(lambda: WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders],
                                                        status=S.CONFIRMING).count() == ORDERS,
                 seconds=60, what="every order to be broadcast")
        scene.anvil.mine(1)
    scene.anvil.mine(3)
    pending = [sweep_confirmations.delay(stale_after=0) for _ in range(8)]  # overlapping: both workers
    reports = [result.get(timeout=30) for result in pending]
    wait_for(lambda: WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders], status=S.COMPLETED).count()
             == ORDERS, tick=lambda: sweep_confirmations.delay(stale_after=0).get(timeout=30), every=1,
             what="every order to complete")

    assert sum(report["completed"] for report in reports) <= ORDERS  # nobody completed one twice
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + ORDERS  # one transaction per order
    assert WithdrawalTransaction.objects.filter(order__in=orders).count() == ORDERS
    assert WithdrawalTransaction.objects.filter(order__in=orders, state="confirmed").count() == ORDERS
    for order in orders:
        order.refresh_from_db()
        assert list(order.history.values_list("to_status", flat=True)).count(S.COMPLETED) == 1
    assert scene.recipient_balance(scene.eth) == sum(amounts)
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["reserved"] == 0 and fee["revenue"] == Decimal("0.001") * ORDERS  # each settled once
    assert ledger_check() == []
    assert second_worker.alive and pipeline_worker.alive
