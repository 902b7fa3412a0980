"""TRON on the send pipeline against the recorded-response node: a TRC-20 USDT withdrawal to
``completed`` (confirmations = solidified blocks), every stored transaction checked by
recomputing its txid from the bytes and recovering its signer; an expired, never-accepted
transaction rebuilt once (the only case of a second signature) and completed; a duplicate
broadcast taken as success."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

import withdrawals.pipeline.fee_bump
import withdrawals.pipeline.send
import withdrawals.pipeline.sweep
from chains.adapters import network_config
from chains.adapters.tron.adapter import TronAdapter
from chains.adapters.tron.backends import RecordedTronBackend
from chains.adapters.tron.codec import address_from_private_key, encode_raw_data, recover_signer
from tests.fixtures.pipeline import TRON_HOT_KEY, assert_kind_settled, fee_of, tron_scene
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import _sign_and_store, pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep

S = WithdrawalOrder.Status
HOT_KEY = TRON_HOT_KEY
HOT = address_from_private_key(HOT_KEY)
START = 1_714_000_100.0  # just after the recorded block


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def node(tmp_path, clock, monkeypatch) -> RecordedTronBackend:
    """The recorded node (head moves only with ``advance``), and adapters sharing the test clock."""
    backend = RecordedTronBackend(tmp_path / "tron", clock=clock)
    original = withdrawals.pipeline.send.adapter_for

    def adapter_for(network):
        if network.kind == "tron":
            return TronAdapter(network_config(network), backend=backend, clock=clock)
        return original(network)

    for module in (withdrawals.pipeline.send, withdrawals.pipeline.sweep, withdrawals.pipeline.fee_bump):
        monkeypatch.setattr(module, "adapter_for", adapter_for)
    monkeypatch.setenv("HOT_KEY_TRON", HOT_KEY.hex())
    return backend


def check_signed(candidate: WithdrawalTransaction) -> dict:
    """As a node would: raw_data_hex is raw_data, txid = sha256(raw bytes), signer = the hot wallet."""
    tx = json.loads(candidate.raw)
    raw = bytes.fromhex(tx["raw_data_hex"])
    assert encode_raw_data(tx["raw_data"]) == raw
    assert hashlib.sha256(raw).hexdigest() == tx["txID"] == candidate.tx_hash
    assert recover_signer(tx["txID"], tx["signature"][0]) == HOT == candidate.sender
    assert "data" not in tx["raw_data"]  # no memo
    return tx


@pytest.mark.django_db
def test_trc20_usdt_withdrawal_completes_on_solidified_blocks(node):
    scene = tron_scene()
    main_before = scene.fees()["main"]
    order = scene.request("150.25")
    scene.approve(order)

    assert pipeline_send(order_id=order.pk).outcome == "sent"
    order.refresh_from_db()
    assert order.status == S.CONFIRMING
    candidate = WithdrawalTransaction.objects.get(order=order)
    tx = check_signed(candidate)
    data = tx["raw_data"]["contract"][0]["parameter"]["value"]["data"]
    assert int(data[-64:], 16) == 150_250_000 and tx["raw_data"]["fee_limit"] == 30_000_000

    node.advance(1)  # in a block, not solidified yet
    pipeline_sweep()
    order.refresh_from_db()
    assert order.status == S.CONFIRMING and order.confirmations == 0
    node.advance(1)  # the solidified head reaches it
    pipeline_sweep()
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=fee_of(node, candidate.tx_hash))
    assert WithdrawalTransaction.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_an_expired_unsent_transaction_is_rebuilt_once_and_completes(node, clock):
    scene = tron_scene()
    main_before = scene.fees()["main"]
    order = scene.request("20")
    scene.approve(order)
    assert _sign_and_store(order.pk) is None  # signed and stored; the worker died before sending
    (expired,) = WithdrawalTransaction.objects.filter(order=order)

    clock.now += 11 * 60  # past its 10-minute expiration: it can never be included
    report = pipeline_sweep(stale_after=timedelta(0))  # re-send → TRANSACTION_EXPIRATION_ERROR → rebuilt
    assert report.resent == 1
    order.refresh_from_db()
    assert order.status == S.CONFIRMING
    expired.refresh_from_db()
    rebuilt = WithdrawalTransaction.objects.filter(order=order).exclude(pk=expired.pk).get()
    assert expired.state == "failed" and rebuilt.state == "sent" and order.tx_hash == rebuilt.tx_hash
    old, new = check_signed(expired), check_signed(rebuilt)
    assert new["raw_data"]["expiration"] > clock.now * 1000 > old["raw_data"]["expiration"]
    assert any("expired unsent" in reason for reason in order.history.values_list("reason", flat=True))

    node.advance(2)
    pipeline_sweep()
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=fee_of(node, rebuilt.tx_hash))
    assert WithdrawalTransaction.objects.filter(order=order).count() == 2  # both kept, never a third


@pytest.mark.django_db
def test_a_duplicate_broadcast_is_success(node):
    scene = tron_scene()
    order = scene.request("30")
    scene.approve(order)
    assert _sign_and_store(order.pk) is None
    candidate = WithdrawalTransaction.objects.get(order=order)
    assert node.post("/wallet/broadcasttransaction", json.loads(candidate.raw))["result"] is True  # sent, unsaved

    assert pipeline_send(order_id=order.pk).outcome == "sent"  # the node answers DUP_TRANSACTION_ERROR
    order.refresh_from_db()
    assert order.status == S.CONFIRMING and order.last_error == ""
    assert WithdrawalTransaction.objects.filter(order=order).count() == 1
    node.advance(2)
    pipeline_sweep()
    assert WithdrawalOrder.objects.get(pk=order.pk).status == S.COMPLETED
