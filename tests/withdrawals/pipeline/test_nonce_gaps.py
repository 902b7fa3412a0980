"""A dropped EVM transaction that a later one waits behind is found (withdrawals.selectors.
nonce_gaps), listed as stuck in the admin, and rebroadcast byte for byte by a task. On anvil with
automine off, the first transaction removed from its mempool (anvil_dropTransaction)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from chains.adapters import adapter_for
from tests.fixtures.pipeline import hot_nonce
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.selectors.nonce_gaps import nonce_gaps
from withdrawals.tasks import rebroadcast

S = WithdrawalOrder.Status
pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_a_dropped_transaction_holding_later_nonces_back_is_found_and_rebroadcast(
        scene, monkeypatch, settings, admin_client, django_capture_on_commit_callbacks):
    monkeypatch.setenv("HOT_KEY_ETH", scene.hot.key.hex())
    anvil = scene.anvil
    adapter = adapter_for(scene.network)
    with anvil.automine_off():
        first, second = scene.request("ETH", "0.1"), scene.request("ETH", "0.2")
        for order in (first, second):
            scene.approve(order)
            assert pipeline_send(order_id=order.pk).outcome == "sent"
        held = WithdrawalTransaction.objects.get(order=first)
        waiting = WithdrawalTransaction.objects.get(order=second)
        assert waiting.nonce == held.nonce + 1
        assert adapter.confirmed_nonce(scene.hot.address) == held.nonce  # nothing mined yet
        assert adapter.pending_nonce(scene.hot.address) == held.nonce + 2
        assert nonce_gaps(network=scene.network) == []  # both in the mempool: no gap

        anvil.drop(held.tx_hash)  # the first leaves the mempool; the second cannot be mined now
        settings.PIPELINE_STUCK_AFTER_SECONDS = 600
        assert nonce_gaps(network=scene.network) == []  # not for long enough yet
        settings.PIPELINE_STUCK_AFTER_SECONDS = 0
        (gap,) = nonce_gaps(network=scene.network)
        assert (gap.address, gap.confirmed_nonce, gap.order_id, gap.tx_hash, gap.waiting) == (
            scene.hot.address, held.nonce, first.pk, held.tx_hash, 1)
        anvil.mine()
        assert hot_nonce(anvil, scene.hot) == held.nonce  # the second waits behind the gap

        changelist = reverse("admin:withdrawals_withdrawalorder_changelist")
        page = admin_client.get(changelist, {"chain": "nonce_gap"}).content.decode()
        assert f"/withdrawals/withdrawalorder/{first.pk}/change/" in page
        assert f"/withdrawals/withdrawalorder/{second.pk}/change/" not in page
        assert "Rebroadcast" in page and "Bump fee" in page

        with django_capture_on_commit_callbacks() as queued:
            response = admin_client.post(changelist, {"action": "rebroadcast", "_selected_action": [first.pk],
                                                      "apply": "1", "reason": "dropped, nonce gap"}, follow=True)
        assert "Rebroadcast queued" in response.content.decode()
        results = []
        monkeypatch.setattr(rebroadcast, "delay", lambda *args: results.append(rebroadcast.apply(args=args)))
        for callback in queued:
            callback()
        (result,) = results
        assert result.successful() and result.result["candidates"] == {held.tx_hash: "sent"}
        assert WithdrawalTransaction.objects.filter(order=first).count() == 1  # the same bytes, nothing signed

        assert adapter.tx_statuses([held.tx_hash])[held.tx_hash].state == "pending"  # back on the node
        anvil.mine()
        assert hot_nonce(anvil, scene.hot) == held.nonce + 1  # the missing nonce is mined
        # anvil evicted the one that waited, too; the sweep re-sends its stored bytes, as for any
        # transaction that left the node.
        pipeline_sweep(stale_after=timedelta(0))
        anvil.mine()
        assert hot_nonce(anvil, scene.hot) == held.nonce + 2  # both mined, in nonce order, each once
        assert nonce_gaps(network=scene.network) == []
