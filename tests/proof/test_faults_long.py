"""Faults that take longer than the suite's time: Redis killed and restarted with tasks in
flight, the chain node frozen for minutes. Each ends with every order sent once, settled once,
no hold lost and ledger_check clean. Run by ``scripts/proof`` (docs/RELIABILITY.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from decimal import Decimal

import pytest
import redis

from ledger.selectors import ledger_check, tenant_fee_reserve
from tests.fixtures.pipeline import hot_nonce, wait_for
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status
NODE_DOWN_SECONDS = float(os.environ.get("PROOF_NODE_DOWN_SECONDS", "120"))


def _drive_to_completion(scene, orders, *, seconds: float = 240) -> None:
    """What beat does (requeue approved orders, sweep), through the worker, until all complete."""
    from withdrawals.tasks import requeue_approved, sweep_confirmations

    ids = [o.pk for o in orders]

    def tick() -> None:
        scene.anvil.mine(1)
        requeue_approved.delay(older_than=0).get(timeout=60)
        sweep_confirmations.delay(stale_after=0).get(timeout=60)

    wait_for(lambda: WithdrawalOrder.objects.filter(pk__in=ids, status=S.COMPLETED).count() == len(ids),
             seconds=seconds, every=1, tick=tick, what="every order to complete")


def _assert_once(scene, orders, *, nonce_before: int, amounts) -> None:
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + len(orders)  # one transaction each
    assert WithdrawalTransaction.objects.filter(order__in=orders).count() == len(orders)
    for order in orders:
        order.refresh_from_db()
        assert list(order.history.values_list("to_status", flat=True)).count(S.COMPLETED) == 1
        assert order.fee_reserved == 0
    assert scene.recipient_balance(scene.eth) == sum(amounts)
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["reserved"] == 0 and fee["revenue"] == Decimal("0.001") * len(orders)
    assert ledger_check() == []


def _answers(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_redis_killed_and_restarted_with_tasks_in_flight(scene, pipeline_worker, otp_bypass):
    """SIGKILL the broker while sends are queued and running; restart it from its append-only
    file (fsync always, as the embedded Redis keeps its queue); the worker reconnects."""
    restart = os.environ.get("PROOF_REDIS_COMMAND")
    assert restart, "run through scripts/proof: it starts the Redis this scenario restarts"
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    amounts = [Decimal("0.11"), Decimal("0.12"), Decimal("0.13"), Decimal("0.14")]
    orders = [scene.request("ETH", str(a), key=f"redis-{i}") for i, a in enumerate(amounts)]
    for order in orders:
        scene.approve(order)  # the sends are queued on commit
    pid = int(client.info("server")["process_id"])
    os.kill(pid, signal.SIGKILL)  # mid-flight: some sends queued, one maybe running
    in_flight = dict(WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "status"))
    time.sleep(3)
    subprocess.run(restart, shell=True, check=True)  # noqa: S602 - the script's own command line
    wait_for(lambda: _answers(client), seconds=15, what="Redis to come back")
    print(f"\nRedis killed with orders {in_flight}; queued after restart: {client.llen(pipeline_worker.queue)}")
    _drive_to_completion(scene, orders)
    _assert_once(scene, orders, nonce_before=nonce_before, amounts=amounts)
    assert pipeline_worker.alive


def test_chain_node_frozen_for_minutes_then_back(scene, pipeline_worker, otp_bypass):
    """The node stops answering (SIGSTOP: connections hang, as a stuck node's do) with an order
    approved and another confirming; after NODE_DOWN_SECONDS it answers again (SIGCONT)."""
    from withdrawals.tasks import sweep_confirmations

    nonce_before = hot_nonce(scene.anvil, scene.hot)
    first = scene.request("ETH", "0.21", key="node-1")
    scene.approve(first)
    wait_for(lambda: WithdrawalOrder.objects.get(pk=first.pk).status == S.CONFIRMING, what="the first sent")
    group = os.getpgid(scene.anvil.process.pid)
    os.killpg(group, signal.SIGSTOP)
    try:
        second = scene.request("ETH", "0.22", key="node-2")
        scene.approve(second)  # its send meets the frozen node: retried with backoff
        deadline = time.monotonic() + NODE_DOWN_SECONDS
        sweeps = []
        while time.monotonic() < deadline:
            sweeps.append(sweep_confirmations.delay(stale_after=0))
            time.sleep(10)
        states = dict(WithdrawalOrder.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "status"))
        print(f"\nnode frozen {NODE_DOWN_SECONDS:.0f}s: orders {states}, {len(sweeps)} sweeps queued")
        assert states[first.pk] == S.CONFIRMING  # nothing completed or failed without the chain
        assert states[second.pk] in (S.APPROVED, S.BROADCASTING)
    finally:
        os.killpg(group, signal.SIGCONT)
    _drive_to_completion(scene, [first, second])
    _assert_once(scene, [first, second], nonce_before=nonce_before, amounts=[Decimal("0.21"), Decimal("0.22")])
