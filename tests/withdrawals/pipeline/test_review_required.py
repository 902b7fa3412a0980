"""No double pay, ever (issue 12). A transaction a node accepted is uncertain, never failed by
itself: evicted from the mempool and refused on rebroadcast, its order goes to review_required
with the hold intact, and only the chain (or two staff, checked against the chain) ends it:
the evicted transaction mined later → completed once; the nonce (EVM) / the input (BTC) consumed
elsewhere at depth → failed once. At signing, what is sent must be what was approved. A token
transfer completes only if the token moved. Driven in-process on a real anvil node and the local
BTC chain."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from eth_account import Account

from approvals.defaults import TREASURY
from approvals.models import RiskListEntry, WorkOrder
from approvals.services.work_orders import work_order_decide
from chains.adapters import adapter_for, coin_config
from chains.adapters.bitcoin.codec import Utxo
from chains.erc20 import _transact
from core.errors import DomainError
from ledger.models import JournalEntry
from ledger.selectors import customer_balances, ledger_check, tenant_fee_reserve
from tests.fixtures.factories import CoinFactory, CurrencyFactory, StaffFactory
from tests.fixtures.pipeline import (
    BTC_HOT_KEY,
    assert_kind_settled,
    assert_settled,
    btc_addresses,
    make_btc_scene,
    make_scene,
    sweep_until,
)
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.send import pipeline_send
from withdrawals.pipeline.sweep import pipeline_sweep
from withdrawals.services.addresses import address_revoke
from withdrawals.services.review import withdrawal_resolution_open

S = WithdrawalOrder.Status
NOW = timedelta(0)


def held(customer, currency: str) -> Decimal:
    return next((b["held"] for b in customer_balances(customer=customer) if b["currency"] == currency), Decimal(0))


def sweep() -> None:
    pipeline_sweep(stale_after=NOW)


def status(order) -> str:
    order.refresh_from_db()
    return order.status


def settles(order) -> int:
    return JournalEntry.objects.filter(reference=f"withdrawal:{order.pk}:settle").count()


def moves_to(order, to_status: str) -> int:
    return list(order.history.values_list("to_status", flat=True)).count(to_status)


def treasurers(count: int) -> list:
    group = Group.objects.get_or_create(name=TREASURY)[0]
    people = [StaffFactory() for _ in range(count)]
    for person in people:
        person.groups.add(group)
    return people


# --- EVM on anvil ----------------------------------------------------------------------------------

@pytest.fixture
def evm(db, anvil, hot_wallet, demo_token, monkeypatch):
    """A scene with a hot wallet of its own (its nonces are this test's alone), signing in-process."""
    monkeypatch.setenv("HOT_KEY_ETH", hot_wallet.key.hex())
    return make_scene(anvil, hot_wallet, demo_token)


def _set_balance(anvil, address: str, wei: int) -> None:
    anvil.rpc("anvil_setBalance", [address, hex(wei)])


def _evm_sent_evicted_refused(scene):
    """Accepted by the node, evicted from its mempool, rebroadcast refused for good (the hot
    wallet cannot pay for it at the moment): review_required."""
    anvil = scene.anvil
    anvil.set_automine(False)
    order = scene.request("ETH", "0.5")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    (candidate,) = WithdrawalTransaction.objects.filter(order=order)
    assert candidate.ever_accepted and status(order) == S.CONFIRMING
    held_before = held(scene.customer, "ETH")
    anvil.drop(candidate.tx_hash)  # evicted, still a valid signed transaction any node could mine
    balance = anvil.w3.eth.get_balance(scene.hot.address)
    _set_balance(anvil, scene.hot.address, 0)  # the node now refuses the rebroadcast: insufficient funds
    anvil.set_automine(True)
    sweep()  # not found → back to broadcasting → same bytes sent → refused for good
    order.refresh_from_db()
    assert order.status == S.REVIEW_REQUIRED, (order.status, order.last_error)  # was: failed, hold released
    assert "insufficient funds" in order.last_error.lower()
    assert held(scene.customer, "ETH") == held_before > 0  # the hold is intact
    assert ledger_check() == []
    candidate.refresh_from_db()
    assert candidate.state == "signed" and candidate.ever_accepted  # still live: the sweep follows it
    sweep()  # nothing decided yet: it stays so
    assert status(order) == S.REVIEW_REQUIRED
    _set_balance(anvil, scene.hot.address, balance)
    return order, candidate


@pytest.mark.chain
def test_evm_evicted_then_mined_later_completes_once(evm):
    main_before = tenant_fee_reserve(tenant=evm.tenant, currency="ETH")["main"]
    order, candidate = _evm_sent_evicted_refused(evm)
    evm.anvil.w3.eth.send_raw_transaction(candidate.raw)  # another node still had it: mined (automine)
    sweep()
    assert status(order) == S.CONFIRMING  # one of its own found again
    evm.anvil.mine()
    sweep()
    assert status(order) == S.COMPLETED
    sweep()
    assert settles(order) == 1 and moves_to(order, "completed") == 1
    assert evm.recipient_balance(evm.eth) == Decimal("0.5")
    assert_settled(evm, order, main_before=main_before)


@pytest.mark.chain
def test_evm_nonce_consumed_by_another_transaction_at_depth_fails_once(evm):
    main_before = tenant_fee_reserve(tenant=evm.tenant, currency="ETH")["main"]
    order, candidate = _evm_sent_evicted_refused(evm)
    w3 = evm.anvil.w3
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    other = Account.sign_transaction({"type": 2, "chainId": evm.anvil.chain_id, "nonce": candidate.nonce,
                                      "to": evm.anvil.accounts[3].address, "value": 1, "gas": 21_000,
                                      "maxFeePerGas": 3 * base + 10**9, "maxPriorityFeePerGas": 10**9},
                                     evm.hot.key)
    w3.eth.send_raw_transaction(other.raw_transaction)  # the same nonce, sent directly: mined at once
    sweep()
    assert status(order) == S.REVIEW_REQUIRED  # 1 block deep of 2: not decided yet
    evm.anvil.mine()
    sweep()
    order.refresh_from_db()
    assert order.status == S.FAILED and "nonce" in order.last_error
    sweep()
    assert moves_to(order, "failed") == 1
    assert held(evm.customer, "ETH") == 0  # released once
    fees = tenant_fee_reserve(tenant=evm.tenant, currency="ETH")
    assert fees["main"] == main_before and fees["reserved"] == 0  # the other tx's fee is not this order's
    assert evm.recipient_balance(evm.eth) == 0
    assert ledger_check() == []


@pytest.mark.chain
def test_staff_resolution_is_two_people_and_checked_against_the_chain(evm):
    order, candidate = _evm_sent_evicted_refused(evm)
    maker, first, second = treasurers(3)
    evm.anvil.set_automine(False)
    try:
        evm.anvil.w3.eth.send_raw_transaction(candidate.raw)  # back in a mempool, not yet mined
        wo = withdrawal_resolution_open(order=order, outcome="failed", actor=maker, reason="looks lost")
        assert wo.type == "atm.va.withdraw_resolve" and wo.context["outcome"] == "failed"
        with pytest.raises(DomainError) as refused:
            work_order_decide(work_order=wo, actor=maker, decision="approve")
        assert refused.value.code == "maker_cannot_approve"
        work_order_decide(work_order=wo, actor=first, decision="approve")
        assert status(order) == S.REVIEW_REQUIRED  # one approval of two
        with pytest.raises(DomainError) as refused:
            work_order_decide(work_order=wo, actor=second, decision="approve")
        assert refused.value.code == "resolution_refused"  # the node knows it: it may still be mined
        assert status(order) == S.REVIEW_REQUIRED and held(evm.customer, "ETH") > 0
        assert WorkOrder.objects.get(pk=wo.pk).status == "open"  # the refusal rolled the approval back
    finally:
        evm.anvil.set_automine(True)
    evm.anvil.mine(2)
    sweep()
    assert status(order) == S.COMPLETED and settles(order) == 1


@pytest.mark.chain
def test_a_transfer_that_broadcast_with_an_unknown_outcome_is_not_failed_by_a_later_refusal(evm, monkeypatch):
    """A timeout during the broadcast leaves the outcome unknown: the later refusal goes to review."""
    from chains.adapters import TransientChainError
    from chains.adapters.evm.adapter import EvmAdapter

    order = evm.request("ETH", "0.2")
    evm.approve(order)
    real = EvmAdapter.broadcast
    monkeypatch.setattr(EvmAdapter, "broadcast", lambda self, signed: (_ for _ in ()).throw(
        TransientChainError("broadcast: node unreachable (ReadTimeout)")))
    with pytest.raises(TransientChainError):
        pipeline_send(order_id=order.pk)
    (candidate,) = WithdrawalTransaction.objects.filter(order=order)
    assert candidate.broadcast_uncertain and not candidate.ever_accepted
    monkeypatch.setattr(EvmAdapter, "broadcast", real)
    balance = evm.anvil.w3.eth.get_balance(evm.hot.address)
    _set_balance(evm.anvil, evm.hot.address, 0)
    try:
        assert pipeline_send(order_id=order.pk).outcome == "review"
    finally:
        _set_balance(evm.anvil, evm.hot.address, balance)
    assert status(order) == S.REVIEW_REQUIRED and held(evm.customer, "ETH") > 0


# --- what is sent is what was approved ------------------------------------------------------------

@pytest.mark.chain
@pytest.mark.parametrize("change", ["revoked", "risk_listed", "amount_changed"])
def test_nothing_is_signed_unless_it_is_what_was_approved(evm, change):
    order = evm.request("ETH", "0.3")
    evm.approve(order)
    nonce_before = evm.anvil.w3.eth.get_transaction_count(evm.hot.address, "pending")
    if change == "revoked":
        address_revoke(address=evm.addresses["ETH"], actor=evm.customer.user, reason="lost the wallet")
    elif change == "risk_listed":
        RiskListEntry.objects.create(network=evm.network, address=evm.recipient.lower(), category="sanctions",
                                     level="severe", source="added after the approval")
    else:  # the row no longer says what the work order approved
        WithdrawalOrder.objects.filter(pk=order.pk).update(amount=Decimal("0.31"))
    result = pipeline_send(order_id=order.pk)
    assert result.outcome == "review", result
    order.refresh_from_db()
    assert order.status == S.REVIEW_REQUIRED and order.last_error.startswith("Not signed:")
    assert not order.transactions.exists() and order.fee_reserved == 0
    assert evm.anvil.w3.eth.get_transaction_count(evm.hot.address, "pending") == nonce_before
    assert held(evm.customer, "ETH") > 0

    # Nothing was signed, so releasing is safe: two Treasury members resolve it as failed.
    maker, first, second = treasurers(3)
    wo = withdrawal_resolution_open(order=order, outcome="failed", actor=maker, reason="address changed")
    work_order_decide(work_order=wo, actor=first, decision="approve")
    work_order_decide(work_order=wo, actor=second, decision="approve")
    order.refresh_from_db()
    assert order.status == S.FAILED and held(evm.customer, "ETH") == 0
    assert order.history.filter(to_status="failed", actor=second).exists()
    assert ledger_check() == []


# --- a token transfer succeeded only if the token moved --------------------------------------------

SILENT_TOKEN = """
# pragma version ^0.4.0
# Says yes to every transfer and moves nothing: no balance change, no Transfer event.
@external
def transfer(to: address, amount: uint256) -> bool:
    return True

@external
@view
def balanceOf(owner: address) -> uint256:
    return 10 ** 30

@external
@view
def decimals() -> uint8:
    return 6
"""


@pytest.mark.chain
def test_a_token_transfer_without_its_transfer_event_never_completes(evm):
    import vyper

    bytecode = vyper.compile_code(SILENT_TOKEN, output_formats=["bytecode"])["bytecode"]
    token = _transact(evm.anvil.w3, evm.anvil.accounts[0].key, {"data": bytecode})["contractAddress"]
    coin = CoinFactory(currency=CurrencyFactory(code="XTK", decimals=6), network=evm.network,
                       contract_address=token, decimals=6, min_amount=Decimal("1"), max_amount=Decimal("1000"),
                       daily_limit=Decimal("10000"), customer_fee=Decimal("0"), confirmations=2)
    from approvals.models import PriceQuote
    from ledger.services import ledger_deposit

    PriceQuote.objects.create(currency=coin.currency, quote="HKD", price=Decimal("1"))
    ledger_deposit(customer=evm.customer, currency="XTK", quote="USD", amount=Decimal("50"), reference="dep-xtk")
    order = evm.request("XTK", "10")
    evm.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    receipt = evm.anvil.w3.eth.get_transaction_receipt(order.transactions.get().tx_hash)
    assert receipt["status"] == 1 and receipt["logs"] == []  # succeeded, moved nothing
    for _ in range(3):
        evm.anvil.mine()
        sweep()
    order.refresh_from_db()
    assert order.status == S.REVIEW_REQUIRED and "Transfer" in order.last_error
    assert settles(order) == 0 and held(evm.customer, "XTK") == Decimal("10")
    assert coin.contract_address == token


# --- two workers and a sweep racing on one order ----------------------------------------------------

@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_two_workers_and_a_sweep_racing_reach_one_outcome(anvil, hot_wallet, demo_token, monkeypatch):
    from withdrawals.tasks import withdrawal_send

    monkeypatch.setattr(withdrawal_send, "delay", lambda *args, **kwargs: None)  # the threads are the workers
    monkeypatch.setenv("HOT_KEY_ETH", hot_wallet.key.hex())
    scene = make_scene(anvil, hot_wallet, demo_token)
    main_before = tenant_fee_reserve(tenant=scene.tenant, currency="ETH")["main"]
    order = scene.request("ETH", "0.4")
    scene.approve(order)
    barrier, errors = threading.Barrier(3), []

    def run(call):
        try:
            barrier.wait()
            for _ in range(3):
                call()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    calls = [lambda: pipeline_send(order_id=order.pk), lambda: pipeline_send(order_id=order.pk), sweep]
    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for _ in range(4):
        anvil.mine()
        sweep()
    order.refresh_from_db()
    assert order.status == S.COMPLETED
    assert WithdrawalTransaction.objects.filter(order=order).count() == 1  # signed once
    assert settles(order) == 1 and moves_to(order, "completed") == 1
    assert scene.recipient_balance(scene.eth) == Decimal("0.4")
    assert_settled(scene, order, main_before=main_before)


# --- BTC on the local chain ------------------------------------------------------------------------

HOT, RECIPIENT = btc_addresses()


def _btc_sent_evicted_refused(btc_chain):
    scene = make_btc_scene()
    btc_chain.fund(HOT, 30_000_000)
    main_before = scene.fees()["main"]
    order = scene.request("0.1")
    scene.approve(order)
    assert pipeline_send(order_id=order.pk).outcome == "sent"
    (candidate,) = WithdrawalTransaction.objects.filter(order=order)
    held_before = held(scene.customer, "BTC")
    btc_chain.drop(candidate.tx_hash)  # evicted from the mempool
    btc_chain.set_mempool_min_fee(1000)  # the node's mempool is full: our rate no longer gets in
    sweep()
    order.refresh_from_db()
    assert order.status == S.REVIEW_REQUIRED, (order.status, order.last_error)  # was: failed, hold released
    assert "mempool min fee" in order.last_error
    assert held(scene.customer, "BTC") == held_before > 0 and ledger_check() == []
    btc_chain.mine()
    sweep()
    assert status(order) == S.REVIEW_REQUIRED
    btc_chain.set_mempool_min_fee(0)
    return scene, order, candidate, main_before


def test_btc_evicted_then_mined_later_completes_once(btc_chain, db):
    scene, order, candidate, main_before = _btc_sent_evicted_refused(btc_chain)
    btc_chain.broadcast(candidate.raw)  # someone still had it
    btc_chain.mine(2)
    sweep()
    sweep()
    assert status(order) == S.COMPLETED and settles(order) == 1
    assert_kind_settled(scene, order, main_before=main_before, fee_paid=candidate.max_fee)


def test_btc_input_spent_elsewhere_at_depth_fails_once(btc_chain, db):
    scene, order, candidate, main_before = _btc_sent_evicted_refused(btc_chain)
    adapter = adapter_for(scene.network)
    inputs = [Utxo.from_dict(i) for i in candidate.meta["inputs"]]
    other = adapter.build_and_sign(coin=coin_config(scene.coin), to_address=HOT, amount=Decimal("0.2"),
                                   private_key=BTC_HOT_KEY, utxos=inputs)
    btc_chain.broadcast(other.raw)  # the same input spent by a transaction that is not the order's
    btc_chain.mine()
    sweep()
    assert status(order) == S.REVIEW_REQUIRED  # 1 deep of 2
    btc_chain.mine()
    order = sweep_until(order, S.FAILED, btc_chain.mine, rounds=1)
    assert "spent by" in order.last_error and moves_to(order, "failed") == 1
    sweep()
    assert moves_to(order, "failed") == 1 and held(scene.customer, "BTC") == 0
    fees = scene.fees()
    assert fees["main"] == main_before and fees["reserved"] == 0
    assert btc_chain.utxos(RECIPIENT) == [] and ledger_check() == []
