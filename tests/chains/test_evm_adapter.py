"""The evm adapter against a real anvil node: no mocks of the chain."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chains import erc20
from chains.adapters.base import (
    AddressError,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
)
from chains.adapters.evm.adapter import AmountError, EvmAdapter, from_wei, to_units
from core.embedded import free_port

pytestmark = pytest.mark.chain

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture(scope="module")
def adapter(anvil) -> EvmAdapter:
    return anvil.adapter()


def fresh_address() -> str:
    return Account.create().address


def send(adapter: EvmAdapter, anvil, coin: CoinConfig, wallet, to: str, amount: Decimal, **kwargs) -> SignedTransaction:
    """Sign, broadcast and (automine) wait for the block."""
    signed = adapter.build_and_sign(coin=coin, to_address=to, amount=amount, private_key=wallet.key, **kwargs)
    assert adapter.broadcast(signed) == signed.tx_hash
    anvil.w3.eth.wait_for_transaction_receipt(signed.tx_hash, timeout=10)
    return signed


# --- addresses -----------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "canonical"), [
    (CHECKSUMMED.lower(), CHECKSUMMED),
    ("0x" + CHECKSUMMED[2:].upper(), CHECKSUMMED),
    (CHECKSUMMED, CHECKSUMMED),
    ("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
    ("0xde709f2102306220921060314715629080e2fb77", "0xde709f2102306220921060314715629080e2fb77"),  # EIP-55: all lower
    ("0x52908400098527886e0f7030069857d2e4169ee7", "0x52908400098527886E0F7030069857D2E4169EE7"),  # EIP-55: all caps
    ("0x0000000000000000000000000000000000000001", "0x0000000000000000000000000000000000000001"),
])
def test_valid_addresses_come_back_checksummed(given, canonical):
    assert EvmAdapter.normalize_address(given) == canonical


@pytest.mark.parametrize("given", [
    CHECKSUMMED[:-1] + "D",  # one letter's case flipped: bad checksum
    "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    CHECKSUMMED[:-1],  # 39 hex digits
    CHECKSUMMED + "0",  # 41
    "0x" + "g" * 40,
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe!",
    CHECKSUMMED[2:],  # no prefix
    "0X" + CHECKSUMMED[2:],
    " " + CHECKSUMMED,
    CHECKSUMMED + " ",
    CHECKSUMMED + "\n",
    "",
    "0x",
    "0x" + "0" * 40,  # the zero address burns funds
    "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",  # TRON
    "41a614f803b6fd780986a42c78ec9c7f77e6ded13c",  # TRON hex form
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",  # BTC bech32
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",  # BTC legacy
])
def test_invalid_addresses_are_refused(given):
    with pytest.raises(AddressError) as excinfo:
        EvmAdapter.normalize_address(given)
    assert excinfo.value.code == "invalid_address"


# --- amounts -------------------------------------------------------------------------------

def test_amounts_convert_exactly_or_not_at_all():
    assert to_units(Decimal("123456789012.123456789012345678"), 18) == 123456789012123456789012345678
    assert to_units(Decimal("1.5"), 6) == 1_500_000
    assert to_units(Decimal("1.500000000"), 6) == 1_500_000  # trailing zeros are not precision
    for bad in (Decimal("0.0000001"), Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(AmountError):
            to_units(bad, 6)


def test_sign_refuses_more_decimals_than_the_coin_has(adapter, usdt_coin, hot_wallet):
    with pytest.raises(AmountError):
        adapter.build_and_sign(coin=usdt_coin, to_address=fresh_address(), amount=Decimal("1.0000001"),
                               private_key=hot_wallet.key)


# --- fees ----------------------------------------------------------------------------------

def test_fee_estimate_is_read_from_the_node(anvil, adapter, eth_coin, usdt_coin):
    base_fee = anvil.w3.eth.get_block("latest")["baseFeePerGas"]
    priority = anvil.w3.eth.max_priority_fee
    eth_fee = adapter.estimate_fee(eth_coin)
    assert eth_fee == from_wei(21_000 * (2 * base_fee + priority))
    assert Decimal("0") < eth_fee < Decimal("0.01")
    assert eth_fee < adapter.estimate_fee(usdt_coin) < Decimal("0.05")


def test_fee_estimate_respects_the_cap(adapter):
    capped = CoinConfig(currency="ETH", decimals=18, fee_cap=Decimal("0.000000001"))
    assert adapter.estimate_fee(capped) == Decimal("0.000000001")


def test_sign_refuses_while_fees_are_above_the_cap(adapter, hot_wallet):
    capped = CoinConfig(currency="ETH", decimals=18, fee_cap=Decimal("0.000000001"))
    with pytest.raises(TransientChainError, match="fee cap"):
        adapter.build_and_sign(coin=capped, to_address=fresh_address(), amount=Decimal("1"),
                               private_key=hot_wallet.key)


def test_a_generous_cap_limits_the_max_fee(adapter, hot_wallet):
    # Between what inclusion costs now (base + tip) and the usual max (2 x base + tip): the cap
    # must bind without making the transaction unminable, whatever the base fee has become.
    base_fee, tip = adapter._fee_market()
    cap = from_wei(21_000 * (base_fee + tip + base_fee // 2 + 1))
    signed = adapter.build_and_sign(coin=CoinConfig(currency="ETH", decimals=18, fee_cap=cap),
                                    to_address=fresh_address(), amount=Decimal("1"), private_key=hot_wallet.key)
    assert signed.max_fee <= cap


# --- sending -------------------------------------------------------------------------------

def test_eth_transfer_lands_exactly(anvil, adapter, eth_coin, hot_wallet):
    receiver, amount = fresh_address(), Decimal("1.234567890123456789")
    before = adapter.native_balance(hot_wallet.address)
    signed = send(adapter, anvil, eth_coin, hot_wallet, receiver, amount)
    assert signed.sender == hot_wallet.address and signed.nonce == 0
    assert signed.meta["chain_id"] == 31337 and signed.meta["gas"] == 21_000
    assert adapter.native_balance(receiver) == amount
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert status.state == TxStatus.INCLUDED and Decimal(0) < status.fee_paid <= signed.max_fee
    assert adapter.native_balance(hot_wallet.address) == before - amount - status.fee_paid


def test_token_transfer_lands_exactly(anvil, adapter, usdt_coin, hot_wallet):
    receiver, amount = fresh_address(), Decimal("12.345678")
    signed = send(adapter, anvil, usdt_coin, hot_wallet, receiver, amount)
    assert erc20.balance_of(anvil.w3, usdt_coin.contract_address, receiver) == 12_345_678
    assert adapter.balance(usdt_coin, receiver) == amount
    assert adapter.balance(usdt_coin, hot_wallet.address) == Decimal("10000") - amount
    receipt = anvil.w3.eth.get_transaction_receipt(signed.tx_hash)
    (event,) = erc20.token_contract(anvil.w3, usdt_coin.contract_address).events.Transfer().process_receipt(receipt)
    assert (event.args.sender, event.args.receiver, event.args.value) == (hot_wallet.address, receiver, 12_345_678)


def test_chain_id_is_asked_of_the_node_when_not_configured(anvil, eth_coin, hot_wallet):
    adapter = EvmAdapter(NetworkConfig(code="ETH", kind="evm", rpc_url=anvil.url))
    receiver = fresh_address()
    signed = send(adapter, anvil, eth_coin, hot_wallet, receiver, Decimal("0.5"))
    assert signed.meta["chain_id"] == 31337
    assert adapter.native_balance(receiver) == Decimal("0.5")


def test_broadcasting_twice_sends_once(anvil, adapter, eth_coin, hot_wallet):
    receiver = fresh_address()
    signed = send(adapter, anvil, eth_coin, hot_wallet, receiver, Decimal("2"))
    assert adapter.broadcast(signed) == signed.tx_hash  # mined already: "nonce too low", but ours
    with anvil.automine_off():
        pending = adapter.build_and_sign(coin=eth_coin, to_address=receiver, amount=Decimal("3"),
                                         private_key=hot_wallet.key)
        assert adapter.broadcast(pending) == pending.tx_hash
        assert adapter.broadcast(pending) == pending.tx_hash  # in the mempool already
    assert adapter.native_balance(receiver) == Decimal("5")
    assert anvil.w3.eth.get_transaction_count(hot_wallet.address) == 2


def test_token_transfer_that_would_revert_is_not_signed(adapter, usdt_coin, hot_wallet):
    with pytest.raises(PermanentChainError, match="would revert"):
        adapter.build_and_sign(coin=usdt_coin, to_address=fresh_address(), amount=Decimal("10001"),
                               private_key=hot_wallet.key)


def test_insufficient_funds_is_permanent(adapter, eth_coin):
    pauper = Account.create()
    signed = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                    private_key=bytes(pauper.key))
    with pytest.raises(PermanentChainError, match="(?i)insufficient funds"):
        adapter.broadcast(signed)


def test_unreachable_node_is_transient(eth_coin, hot_wallet, adapter):
    signed = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                    private_key=hot_wallet.key)
    dead = EvmAdapter(NetworkConfig(code="ETH", kind="evm", rpc_url=f"http://127.0.0.1:{free_port()}",
                                    chain_id=31337))
    with pytest.raises(TransientChainError):
        dead.estimate_fee(eth_coin)
    with pytest.raises(TransientChainError):
        dead.broadcast(signed)
    with pytest.raises(TransientChainError):
        dead.tx_statuses([signed.tx_hash])
    with pytest.raises(TransientChainError):
        dead.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                            private_key=hot_wallet.key)


def test_private_keys_stay_out_of_errors(adapter, eth_coin):
    bad_key = b"\xff" * 32  # above the curve order: not a key
    with pytest.raises(ValueError) as excinfo:
        adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"), private_key=bad_key)
    assert "ff" * 4 not in str(excinfo.value).lower() and excinfo.value.__cause__ is None


# --- following -----------------------------------------------------------------------------

def test_statuses_pending_then_included_with_growing_confirmations(anvil, adapter, eth_coin, hot_wallet):
    unknown = "0x" + secrets.token_hex(32)
    with anvil.automine_off():
        signed = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                        private_key=hot_wallet.key)
        adapter.broadcast(signed)
        statuses = adapter.tx_statuses([signed.tx_hash, unknown])
        assert statuses[signed.tx_hash].state == TxStatus.PENDING
        assert statuses[signed.tx_hash].confirmations == 0
        assert statuses[unknown].state == TxStatus.NOT_FOUND
        anvil.mine()
        included = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
        assert (included.state, included.confirmations) == (TxStatus.INCLUDED, 1)
        assert included.block_number == anvil.w3.eth.block_number
        assert included.block_hash == anvil.w3.eth.get_block(included.block_number)["hash"].to_0x_hex()
        anvil.mine(3)
        assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].confirmations == 4


def test_reverted_transfer_is_reported_with_its_fee(anvil, adapter, usdt_coin, hot_wallet):
    # An explicit gas limit skips estimation, so the transfer is mined and reverts on chain.
    signed = send(adapter, anvil, usdt_coin, hot_wallet, fresh_address(), Decimal("10001"), gas_limit=100_000)
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert status.state == TxStatus.REVERTED and status.confirmations == 1
    assert status.fee_paid > 0
    assert adapter.balance(usdt_coin, hot_wallet.address) == Decimal("10000")


def test_dropped_transaction_is_not_found(anvil, adapter, eth_coin, hot_wallet):
    with anvil.automine_off():
        signed = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                        private_key=hot_wallet.key)
        adapter.broadcast(signed)
        anvil.drop(signed.tx_hash)
        assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.NOT_FOUND


def test_reorged_out_transaction_is_sent_again_unchanged(anvil, adapter, eth_coin, hot_wallet):
    receiver = fresh_address()
    snapshot = anvil.snapshot()
    signed = send(adapter, anvil, eth_coin, hot_wallet, receiver, Decimal("1.5"))
    assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.INCLUDED
    anvil.revert(snapshot)
    assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.NOT_FOUND
    assert adapter.native_balance(receiver) == 0
    assert adapter.broadcast(signed) == signed.tx_hash
    anvil.w3.eth.wait_for_transaction_receipt(signed.tx_hash, timeout=10)
    assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.INCLUDED
    assert adapter.native_balance(receiver) == Decimal("1.5")


def test_many_statuses_in_one_call(anvil, adapter, eth_coin, hot_wallet):
    hashes = [send(adapter, anvil, eth_coin, hot_wallet, fresh_address(), Decimal("0.01")).tx_hash
              for _ in range(3)]
    unknown = ["0x" + secrets.token_hex(32) for _ in range(2)]
    statuses = adapter.tx_statuses(hashes + unknown + hashes[:1])
    assert set(statuses) == set(hashes + unknown)
    assert [statuses[h].confirmations for h in hashes] == [3, 2, 1]
    assert {statuses[h].state for h in unknown} == {TxStatus.NOT_FOUND}
    assert adapter.tx_statuses([]) == {}


# --- replacement ---------------------------------------------------------------------------

def test_fee_bump_replaces_the_stuck_transaction(anvil, adapter, eth_coin, hot_wallet):
    receiver = fresh_address()
    with anvil.automine_off():
        first = adapter.build_and_sign(coin=eth_coin, to_address=receiver, amount=Decimal("1"),
                                       private_key=hot_wallet.key, nonce=0)
        bumped = adapter.build_and_sign(coin=eth_coin, to_address=receiver, amount=Decimal("1"),
                                        private_key=hot_wallet.key, nonce=0, fee_bump=1)
        assert bumped.nonce == first.nonce and bumped.tx_hash != first.tx_hash
        for fee in ("max_fee_per_gas", "max_priority_fee_per_gas"):
            assert bumped.meta[fee] * 8 >= first.meta[fee] * 9
        adapter.broadcast(first)
        adapter.broadcast(bumped)
        anvil.mine()
    statuses = adapter.tx_statuses([first.tx_hash, bumped.tx_hash])
    assert statuses[bumped.tx_hash].state == TxStatus.INCLUDED
    assert statuses[first.tx_hash].state == TxStatus.NOT_FOUND
    assert adapter.native_balance(receiver) == Decimal("1")
    with pytest.raises(PermanentChainError, match="nonce too low"):  # its nonce is spent for good
        adapter.broadcast(first)


def test_replacement_outbids_the_transaction_it_replaces(adapter, eth_coin, hot_wallet):
    first = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                   private_key=hot_wallet.key, nonce=7)
    generous = SignedTransaction(**{**first.__dict__, "meta": {**first.meta, "max_fee_per_gas": 10**12,
                                                                "max_priority_fee_per_gas": 10**11}})
    replacement = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                         private_key=hot_wallet.key, replaces=generous)
    assert replacement.nonce == 7
    assert replacement.meta["max_fee_per_gas"] >= 10**12 * 9 // 8
    assert replacement.meta["max_priority_fee_per_gas"] >= 10**11 * 9 // 8


def test_underpriced_replacement_is_permanent(anvil, adapter, eth_coin, hot_wallet):
    with anvil.automine_off():
        first = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                       private_key=hot_wallet.key)
        rival = adapter.build_and_sign(coin=eth_coin, to_address=fresh_address(), amount=Decimal("1"),
                                       private_key=hot_wallet.key, nonce=first.nonce)
        adapter.broadcast(first)
        with pytest.raises(PermanentChainError, match="underpriced"):
            adapter.broadcast(rival)


# --- messages ------------------------------------------------------------------------------

def test_verify_message():
    signer, other = Account.create(), Account.create()
    message = "I own this address. Nonce: 8f3a"
    signature = Account.sign_message(encode_defunct(text=message), signer.key).signature.to_0x_hex()
    verify = EvmAdapter(NetworkConfig(code="ETH", kind="evm")).verify_message
    assert verify(address=signer.address, message=message, signature=signature)
    assert verify(address=signer.address.lower(), message=message, signature=signature)
    assert not verify(address=other.address, message=message, signature=signature)
    assert not verify(address=signer.address, message=message + ".", signature=signature)
    forged = signature[:-4] + ("00" if signature[-4:-2] != "00" else "11") + signature[-2:]
    assert not verify(address=signer.address, message=message, signature=forged)
    for garbage in ("", "0x", "0x1234", "not hex at all", "0x" + "ff" * 65, signature[:-2] + "99"):
        assert not verify(address=signer.address, message=message, signature=garbage)
    assert not verify(address="not an address", message=message, signature=signature)
