"""The pipeline's parts in-process (no worker): nonces, the sweep's query count, the fee-reserve
selector and admin page, the kill-switch admin and its audit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench.sweep_bench import bulk_confirming_orders
from chains.models import KillSwitchChange, Network, SendingSwitch
from chains.services import sending_pause_set, sending_paused_reason
from ledger.services import ledger_transfer
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory, NetworkFactory
from withdrawals.models import HotWalletNonce, WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.nonces import nonce_allocate
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.selectors.fee_reserve import fee_reserve_overview

HOT = "0x" + "aa" * 20


def _candidate(order, nonce: int, state: str = "signed") -> WithdrawalTransaction:
    return WithdrawalTransaction.objects.create(order=order, tx_hash=f"0x{order.pk:032x}{nonce:032x}", raw="0x00",
                                                sender=HOT, nonce=nonce, max_fee=Decimal("0.001"), state=state)


def _orders(coin, count: int, hashes: list[str] | None = None) -> list[WithdrawalOrder]:
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, network=coin.network)
    ids = bulk_confirming_orders(coin=coin, customer=customer, address=address,
                                 tx_hashes=hashes or ["0x" + "00" * 32], count=count)
    return list(WithdrawalOrder.objects.filter(pk__in=ids).order_by("id"))


# --- nonces ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_nonce_is_the_nodes_pending_nonce_or_above_our_live_transactions():
    coin = CoinFactory()
    network = coin.network
    first, second = _orders(coin, 2)
    with transaction.atomic():
        assert nonce_allocate(network=network, address=HOT, node_pending=7) == 7
        _candidate(first, 7)  # stored in the same transaction: nonce 7 is taken
    with transaction.atomic():  # the node has not seen 7 yet (signed, never sent): 8, not 7 again
        assert nonce_allocate(network=network, address=HOT, node_pending=7) == 8
        _candidate(second, 8)
    assert HotWalletNonce.objects.get(network=network, address=HOT).next_nonce == 9


@pytest.mark.django_db
def test_a_nonce_allocated_in_a_rolled_back_transaction_is_handed_out_again():
    network = CoinFactory().network

    with pytest.raises(RuntimeError), transaction.atomic():  # the worker dies before the commit
        assert nonce_allocate(network=network, address=HOT, node_pending=3) == 3
        raise RuntimeError("killed before commit: nothing stored, nothing broadcast")
    with transaction.atomic():
        assert nonce_allocate(network=network, address=HOT, node_pending=3) == 3  # no gap


@pytest.mark.django_db
def test_a_failed_or_finished_transaction_does_not_hold_its_nonce():
    coin = CoinFactory()
    order, = _orders(coin, 1)
    _candidate(order, 4, state="failed")  # refused for good, never mined
    with transaction.atomic():
        assert nonce_allocate(network=coin.network, address=HOT, node_pending=4) == 4


# --- the sweep ------------------------------------------------------------------------------------

def _real_hashes(anvil, count: int) -> list[str]:
    sender = anvil.accounts[1].address
    hashes = [anvil.w3.eth.send_transaction({"from": sender, "to": anvil.accounts[2].address, "value": 1})
              for _ in range(count)]
    return [h.to_0x_hex() for h in hashes]


@pytest.mark.chain
@pytest.mark.django_db
def test_sweep_queries_do_not_grow_with_the_number_of_orders(anvil):
    coin = CoinFactory(confirmations=10**6)  # never deep enough: the progress path
    Network.objects.filter(pk=coin.network_id).update(rpc_url=anvil.url, chain_id=anvil.chain_id)
    hashes = _real_hashes(anvil, 3)
    counts = {}
    for size in (5, 60):
        WithdrawalOrder.objects.filter(status="confirming").delete()
        _orders(coin, size, hashes)
        anvil.mine()
        with CaptureQueriesContext(connection) as moving:
            report = pipeline_sweep()
        assert report.progressed == size and report.completed == 0
        with CaptureQueriesContext(connection) as idle:
            assert pipeline_sweep().progressed == 0  # nothing changed on chain: nothing written
        counts[size] = (len(moving), len(idle))
    assert counts[5] == counts[60], counts
    moving, idle = counts[60]
    assert moving <= 8 and idle <= 7  # networks, lock, orders, candidates, one bulk update, unlock
    assert set(WithdrawalOrder.objects.values_list("confirmations", flat=True)) != {0}


# --- kill switches ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_kill_switches_are_flipped_with_a_reason_and_audited(admin_client, django_user_model):
    network = NetworkFactory()
    admin_user = django_user_model.objects.get(username="admin")
    response = admin_client.post(reverse("admin:withdrawals_networksendingcontrol_changelist"), {
        "action": "pause_networks", "_selected_action": [network.pk], "apply": "1",
        "reason": "node provider incident"})
    assert response.status_code == 302
    network.refresh_from_db()
    assert network.sending_paused and sending_paused_reason(network) == "Sending is paused on ETH."
    change = KillSwitchChange.objects.get()
    assert (change.network, change.paused, change.actor, change.reason) == (
        network, True, admin_user, "node provider incident")

    SendingSwitch.objects.get_or_create(pk=1)
    admin_client.post(reverse("admin:chains_sendingswitch_changelist"), {
        "action": "pause_all", "_selected_action": [1], "apply": "1", "reason": "incident"})
    assert SendingSwitch.objects.get(pk=1).sending_paused
    assert not sending_pause_set(network=None, paused=True, actor=admin_user, reason="again")  # no-op
    assert KillSwitchChange.objects.count() == 2
    assert admin_client.get(reverse("admin:chains_killswitchchange_changelist")).status_code == 200


# --- fee reserve ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_fee_reserve_page_warns_when_the_main_account_cannot_cover_queued_orders(admin_client):
    coin = CoinFactory(network_fee_estimate=Decimal("0.01"))
    orders = _orders(coin, 3)
    WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders]).update(status="approved")
    tenant = orders[0].customer.tenant
    ledger_transfer(tenant=tenant, currency="ETH", amount=Decimal("0.02"), kind="main_topup", reference="t1")

    line, = fee_reserve_overview()
    assert (line.main, line.needed, line.missing, line.short) == (
        Decimal("0.02"), Decimal("0.03"), Decimal("0.01"), True)
    assert line.coins[0].orders == 3
    page = admin_client.get(reverse("admin:withdrawals_feereservecoin_changelist"))
    assert page.status_code == 200
    assert b"SHORT by 0.01" in page.content and b"main_topup" in page.content

    ledger_transfer(tenant=tenant, currency="ETH", amount=Decimal("0.01"), kind="main_topup", reference="t2")
    line, = fee_reserve_overview()
    assert not line.short
    assert b"SHORT" not in admin_client.get(reverse("admin:withdrawals_feereservecoin_changelist")).content


@pytest.mark.django_db
def test_fee_reserve_selector_queries_do_not_grow_with_orders():
    coin = CoinFactory(network_fee_estimate=Decimal("0.01"))
    _orders(coin, 2)
    with CaptureQueriesContext(connection) as few:
        fee_reserve_overview()
    _orders(coin, 40)
    with CaptureQueriesContext(connection) as many:
        fee_reserve_overview()
    assert len(few) == len(many) <= 3
