"""Before anything is signed the chain must confirm the coin: the node is on the network's chain
id and the token's decimals() is the coin's chain decimals. A mismatch signs nothing: the order
stays approved, says why, and no nonce is taken. On the session's real anvil node (chain 31337)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chains.models import Coin, Network
from tests.fixtures.pipeline import hot_nonce
from withdrawals.models import HotWalletNonce, WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import pipeline_send

S = WithdrawalOrder.Status
pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def assert_nothing_signed(scene, order, nonce_before: int, *, says: str) -> None:
    order.refresh_from_db()
    assert order.status == S.APPROVED and says in order.last_error
    assert not WithdrawalTransaction.objects.filter(order=order).exists()
    assert order.fee_reserved == 0  # the reserve rolled back with everything else
    assert not HotWalletNonce.objects.filter(network=scene.network).exists()
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before


def test_a_token_coin_whose_chain_decimals_are_not_the_contracts_signs_nothing(scene, monkeypatch):
    monkeypatch.setenv("HOT_KEY_ETH", scene.hot.key.hex())
    Coin.objects.filter(pk=scene.usdt.pk).update(chain_decimals=18)  # 42 USDT would leave as 42e18 units
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    order = scene.request("USDT", "42")
    scene.approve(order)

    result = pipeline_send(order_id=order.pk)

    assert result.outcome == "refused"
    assert_nothing_signed(scene, order, nonce_before, says="has 6 decimals, the coin says 18")


def test_a_network_row_on_another_chain_than_the_node_signs_nothing(scene, monkeypatch):
    monkeypatch.setenv("HOT_KEY_ETH", scene.hot.key.hex())
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    order = scene.request("ETH", "0.1")
    scene.approve(order)
    Network.objects.filter(pk=scene.network.pk).update(chain_id=1)  # mainnet, says the row

    result = pipeline_send(order_id=order.pk)

    assert result.outcome == "refused"
    assert_nothing_signed(scene, order, nonce_before, says="node is on chain 31337, but the network says chain 1")

    Network.objects.filter(pk=scene.network.pk).update(chain_id=31337)
    assert pipeline_send(order_id=order.pk).outcome == "sent"  # put right, the same order goes


def test_decimals_cannot_change_while_an_order_of_the_coin_is_unfinished(scene):
    order = scene.request("USDT", "42")
    coin = Coin.objects.get(pk=scene.usdt.pk)
    coin.chain_decimals = 18
    with pytest.raises(ValidationError) as caught:
        coin.full_clean()
    assert "chain_decimals cannot change while 1 withdrawal of this coin is not finished" in str(caught.value)
    with pytest.raises(IntegrityError, match="cannot change while 1 withdrawal"), transaction.atomic():
        Coin.objects.filter(pk=coin.pk).update(decimals=4)

    WithdrawalOrder.objects.filter(pk=order.pk).update(status=S.CANCELLED)  # terminal: free to change
    coin.decimals, coin.chain_decimals = 4, 6
    coin.full_clean()
    Coin.objects.filter(pk=coin.pk).update(decimals=4)
