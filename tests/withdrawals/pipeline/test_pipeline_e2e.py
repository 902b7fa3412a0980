"""End to end on a real anvil node with a real Celery worker on Redis and the real database:
App request → approval → broadcast → blocks mined → completed, the ledger settled as SPEC says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.selectors import customer_balances, ledger_check, tenant_fee_reserve
from tests.fixtures.pipeline import (
    assert_settled,
    hot_nonce,
    mine_and_sweep,
    transfers_to,
    units,
    wait_status,
)
from withdrawals.models import WithdrawalOrder

pytestmark = [pytest.mark.chain, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
S = WithdrawalOrder.Status


def _balances(customer, currency):
    return next(b for b in customer_balances(customer=customer) if b["currency"] == currency)


def test_eth_withdrawal_reaches_the_chain_once_and_settles(scene, pipeline_worker):
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    sub_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["sub_account"]

    order = scene.request("ETH", "1.2")
    scene.approve(order)  # the send task starts on commit, in the worker
    order = wait_status(order, S.CONFIRMING, S.COMPLETED)
    assert order.transactions.count() == 1
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))

    assert scene.recipient_balance(scene.eth) == Decimal("1.2")  # exactly the amount, on chain
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1  # one transaction, ever
    assert_settled(scene, order, main_before=main_before)
    fee = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")
    assert fee["sub_account"] == sub_before - Decimal("1.2")  # principal left the sub-account
    assert fee["revenue"] == Decimal("0.001")  # the customer fee
    eth = _balances(scene.customer, "ETH")
    assert eth["held"] == 0 and eth["available"] == Decimal("1.8") - Decimal("1.201")
    # Largest instrument first: 1.0 from ETHUSD, the rest from ETHHKD, both settled.
    assert {i["instrument"]: i["available"] for i in eth["instruments"]} == {
        "VA/HAS/ETHUSD": Decimal("0"), "VA/HAS/ETHHKD": Decimal("0.599")}
    history = list(order.history.values_list("to_status", flat=True))
    assert history == ["pending_approval", "approved", "broadcasting", "confirming", "completed"]


def test_erc20_usdt_withdrawal_reaches_the_chain_once_and_settles(scene, pipeline_worker, demo_token):
    nonce_before = hot_nonce(scene.anvil, scene.hot)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    start_block = scene.anvil.w3.eth.block_number

    order = scene.request("USDT", "250.5")
    scene.approve(order)
    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))

    assert scene.recipient_balance(scene.usdt) == Decimal("250.5")
    transfers = transfers_to(scene.anvil, demo_token, scene.recipient, from_block=start_block)
    assert [t["args"]["value"] for t in transfers] == [units(Decimal("250.5"), 6)]
    assert hot_nonce(scene.anvil, scene.hot) == nonce_before + 1
    assert_settled(scene, order, main_before=main_before)  # the fee in ETH from the main account
    usdt = tenant_fee_reserve(tenant=scene.tenant, currency="USDT")
    assert usdt["sub_account"] == Decimal("500") - Decimal("250.5") and usdt["revenue"] == Decimal("1")
    assert _balances(scene.customer, "USDT")["available"] == Decimal("248.5")
    assert ledger_check() == []
