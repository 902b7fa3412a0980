"""The TRON adapter: addresses, offline TRX / TRC-20 transactions (txid and signer checked from
the bytes), broadcast and status flows against recorded node answers, fee estimates and TIP-191
messages. No database, no network."""

from __future__ import annotations

import hashlib
import json
import socket
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from tronpy.keys import PrivateKey

from chains.adapters.base import (
    AddressError,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
)
from chains.adapters.tron.adapter import TronAdapter
from chains.adapters.tron.backends import RecordedTronBackend, TronHttpBackend, backend_for
from chains.adapters.tron.codec import (
    TRANSFER_SELECTOR,
    TransactionExpired,
    address_from_private_key,
    address_hex,
    encode_raw_data,
    recover_signer,
    sign_message,
    verify_message,
)

RECORDINGS = Path(__file__).parent / "recordings" / "tron_node.json"
NOW = 1_683_345_400.0  # shortly after the recorded block
KEY = bytes.fromhex("88" * 32)
SENDER = "TJzXt1sZautjqXnpjQT4xSCBHNSYgBkDr3"  # tronpy's documented address of KEY
TO = "TVjsyZ7fYF3qLF6BQgPmTEZy1xrNNyVAAA"
USDT_CONTRACT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRX = CoinConfig(currency="TRX", decimals=6)
USDT = CoinConfig(currency="USDT", decimals=6, contract_address=USDT_CONTRACT, fee_cap=Decimal("30"))


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def clock():
    now = [NOW]
    clock = lambda: now[0]  # noqa: E731
    clock.now = now
    return clock


@pytest.fixture
def node(tmp_path, clock) -> RecordedTronBackend:
    return RecordedTronBackend(tmp_path / "tron", recordings=RECORDINGS, clock=clock)


@pytest.fixture
def adapter(node, clock) -> TronAdapter:
    return TronAdapter(NetworkConfig(code="TRON", kind="tron", address_network="mainnet"), backend=node, clock=clock)


def signed_tx(signed: SignedTransaction) -> dict:
    return json.loads(signed.raw)


# --- Addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "canonical"), [
    (USDT_CONTRACT, USDT_CONTRACT),
    (SENDER, SENDER),
    ("41a614f803b6fd780986a42c78ec9c7f77e6ded13c", USDT_CONTRACT),  # node hex form → base58
])
def test_valid_addresses_normalize(address, canonical):
    assert TronAdapter.normalize_address(address) == canonical


@pytest.mark.parametrize("address", [
    USDT_CONTRACT[:-1] + "s",  # checksum
    "",
    " " + USDT_CONTRACT,
    USDT_CONTRACT + " ",
    USDT_CONTRACT + "t",  # overlong
    USDT_CONTRACT * 2,
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # an ETH address
    "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c",
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # BTC
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "42a614f803b6fd780986a42c78ec9c7f77e6ded13c",  # not the 0x41 prefix
    "41a614f803b6fd780986a42c78ec9c7f77e6ded1zz",
    "1" + USDT_CONTRACT[1:],  # base58check of a non-TRON version byte would need T
])
def test_invalid_addresses_are_refused(address):
    with pytest.raises(AddressError) as caught:
        TronAdapter.normalize_address(address)
    assert caught.value.code == "invalid_address"


# --- Serialization ---------------------------------------------------------------------------

# A TRX transfer and its raw_data_hex as a node returned them (QuickNode's broadcast example).
NODE_TRANSFER = {
    "contract": [{"parameter": {"value": {"amount": 1000, "owner_address": "41608f8da72479edc7dd921e4c30bb7e7cddbe722e",
                                          "to_address": "41e9d79cc47518930bc322d9bf7cddd260a0260a8d"},
                                "type_url": "type.googleapis.com/protocol.TransferContract"},
                  "type": "TransferContract"}],
    "ref_block_bytes": "5e4b", "ref_block_hash": "47c9dc89341b300d", "expiration": 1591089627000,
    "timestamp": 1591089567635,
}
NODE_TRANSFER_HEX = (
    "0a025e4b220847c9dc89341b300d40f8fed3a2a72e5a66080112620a2d747970652e676f6f676c65617069732e636f6d2f70726f"
    "746f636f6c2e5472616e73666572436f6e747261637412310a1541608f8da72479edc7dd921e4c30bb7e7cddbe722e121541e9d7"
    "9cc47518930bc322d9bf7cddd260a0260a8d18e8077093afd0a2a72e")
# A TRC-20 transfer, checked byte for byte against tronpy's protobuf serializer (tron.proto).
TRC20_RAW = {
    "contract": [{"parameter": {"value": {
        "owner_address": "4162f94e9ac9349bccc61bfe66ddade6292702ecb6",
        "contract_address": "41a614f803b6fd780986a42c78ec9c7f77e6ded13c",
        "data": "a9059cbb000000000000000000000000d8dd39e2dea27a40001884901735e3940829bb44"
                "000000000000000000000000000000000000000000000000000000000012d687"},
        "type_url": "type.googleapis.com/protocol.TriggerSmartContract"}, "type": "TriggerSmartContract"}],
    "ref_block_bytes": "b2c3", "ref_block_hash": "abababababababab", "expiration": 1700000600000,
    "timestamp": 1700000000000, "fee_limit": 50000000,
}
TRC20_HEX = (
    "0a02b2c32208abababababababab40c09fbaffbc315aae01081f12a9010a31747970652e676f6f676c65617069732e636f6d2f70"
    "726f746f636f6c2e54726967676572536d617274436f6e747261637412740a154162f94e9ac9349bccc61bfe66ddade6292702ec"
    "b6121541a614f803b6fd780986a42c78ec9c7f77e6ded13c2244a9059cbb000000000000000000000000d8dd39e2dea27a4000188"
    "4901735e3940829bb44000000000000000000000000000000000000000000000000000000000012d6877080d095ffbc3190018"
    "0e1eb17")


@pytest.mark.parametrize(("raw_data", "raw_hex"), [(NODE_TRANSFER, NODE_TRANSFER_HEX), (TRC20_RAW, TRC20_HEX)])
def test_raw_data_serializes_like_the_node(raw_data, raw_hex):
    assert encode_raw_data(raw_data).hex() == raw_hex


def test_serialization_matches_tronpys_protobuf():
    from tronpy.proto import transaction as proto  # protobuf is pinned: this must never be skipped

    for raw_data in (NODE_TRANSFER, TRC20_RAW):
        assert proto.calculate_txid_from_raw_data(raw_data) == hashlib.sha256(encode_raw_data(raw_data)).hexdigest()


def test_a_memo_is_refused_rather_than_signed_blind():
    with pytest.raises(ValueError):
        encode_raw_data({**NODE_TRANSFER, "data": "6d656d6f"})


# --- Building and signing --------------------------------------------------------------------


def check_signed(signed: SignedTransaction) -> dict:
    """What a node checks: raw_data_hex is raw_data, txid = sha256(raw_data bytes), signer = owner."""
    tx = signed_tx(signed)
    raw_bytes = bytes.fromhex(tx["raw_data_hex"])
    assert encode_raw_data(tx["raw_data"]) == raw_bytes
    assert hashlib.sha256(raw_bytes).hexdigest() == tx["txID"] == signed.tx_hash
    assert recover_signer(tx["txID"], tx["signature"][0]) == SENDER == signed.sender
    assert "data" not in tx["raw_data"]
    return tx


def test_trx_transfer_is_signed_offline_against_the_latest_block(adapter, node):
    signed = adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("12.345678"), private_key=KEY)
    tx = check_signed(signed)
    value = tx["raw_data"]["contract"][0]["parameter"]["value"]
    assert tx["raw_data"]["contract"][0]["type"] == "TransferContract"
    assert value == {"owner_address": address_hex(SENDER), "to_address": address_hex(TO), "amount": 12_345_678}
    block_id = node.post("/wallet/getnowblock", {})["blockID"]
    assert (tx["raw_data"]["ref_block_bytes"], tx["raw_data"]["ref_block_hash"]) == (block_id[12:16], block_id[16:32])
    assert tx["raw_data"]["expiration"] == signed.meta["expiration"] == int(NOW * 1000) + 10 * 60 * 1000
    assert "fee_limit" not in tx["raw_data"]
    assert signed.max_fee == Decimal("0.35")


def test_trc20_transfer_encodes_transfer_to_amount(adapter):
    signed = adapter.build_and_sign(coin=USDT, to_address=TO, amount=Decimal("1.5"), private_key=KEY)
    tx = check_signed(signed)
    value = tx["raw_data"]["contract"][0]["parameter"]["value"]
    assert value["contract_address"] == "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
    data = bytes.fromhex(value["data"])
    assert data[:4] == TRANSFER_SELECTOR == bytes.fromhex("a9059cbb")
    assert data[4:36] == bytes(12) + bytes.fromhex(address_hex(TO))[1:]
    assert int.from_bytes(data[36:68], "big") == 1_500_000
    assert len(data) == 68
    assert tx["raw_data"]["fee_limit"] == 30_000_000  # the coin's fee cap, in SUN
    assert signed.max_fee == Decimal("30.35")


def test_amounts_are_exact(adapter):
    with pytest.raises(ValueError):
        adapter.build_and_sign(coin=USDT, to_address=TO, amount=Decimal("1.0000001"), private_key=KEY)
    with pytest.raises(ValueError):
        adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("0"), private_key=KEY)
    with pytest.raises(AddressError):
        adapter.build_and_sign(coin=TRX, to_address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                               amount=Decimal("1"), private_key=KEY)


# --- Broadcast and status --------------------------------------------------------------------


def simulated_bandwidth_fee(signed: SignedTransaction) -> Decimal:
    """The recorded node burns 1000 SUN per byte: raw_data + signature + 64 bytes of result."""
    size = len(signed_tx(signed)["raw_data_hex"]) // 2 + 65 + 64
    assert size * 1000 <= 350_000  # within the BANDWIDTH_FEE_TRX the estimate assumes
    return Decimal(size) / 1000


def test_broadcast_then_included_then_confirmed_against_the_solidified_head(adapter, node):
    signed = adapter.build_and_sign(coin=USDT, to_address=TO, amount=Decimal("5"), private_key=KEY)
    assert adapter.broadcast(signed) == signed.tx_hash
    assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.PENDING

    node.advance(1)
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert (status.state, status.confirmations) == (TxStatus.INCLUDED, 0)  # in a block, not yet solidified

    node.advance(3)
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert status.state == TxStatus.INCLUDED
    assert status.confirmations == 3
    assert status.fee_paid == Decimal("27.3") + simulated_bandwidth_fee(signed)  # 65,000 energy × 420 SUN


def test_a_resent_transaction_is_dup_and_counts_as_sent(adapter, node):
    signed = adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("1"), private_key=KEY)
    adapter.broadcast(signed)
    assert node.post("/wallet/broadcasttransaction", signed_tx(signed))["code"] == "DUP_TRANSACTION_ERROR"
    assert adapter.broadcast(signed) == signed.tx_hash


def test_an_expired_transaction_raises_transaction_expired(adapter, clock):
    signed = adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("1"), private_key=KEY)
    clock.now[0] += 11 * 60
    with pytest.raises(TransactionExpired, match="Transaction expired"):
        adapter.broadcast(signed)
    assert issubclass(TransactionExpired, PermanentChainError)


def test_a_bad_signature_is_permanent_with_the_decoded_message(adapter):
    signed = adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("1"), private_key=KEY)
    tx = signed_tx(signed)
    tx["signature"] = [PrivateKey(bytes.fromhex("77" * 32)).sign_msg_hash(bytes.fromhex(tx["txID"])).hex()]
    forged = SignedTransaction(tx_hash=signed.tx_hash, raw=json.dumps(tx), sender=signed.sender)
    with pytest.raises(PermanentChainError, match="SIGERROR: Validate signature error") as caught:
        adapter.broadcast(forged)
    assert not isinstance(caught.value, TransactionExpired)


def test_recorded_transactions_report_success_revert_and_out_of_energy(adapter):
    trx_ok = "5182b96bc0d74f416d6ba8e22380e5920d8627f8fb5ef5a6a11d4df030459132"
    usdt_ok = "c3b3f2d1a0e9f8d7c6b5a4938271605f4e3d2c1b0a99887766554433221100aa"
    revert = "d4c4e3f2b1a0f9e8d7c6b5a49382716050f4e3d2c1b0a9988776655443322110"
    out_of_energy = "e5d5f4a3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0a998877665544332211"
    unknown = "ff" * 32
    statuses = adapter.tx_statuses([trx_ok, usdt_ok, revert, out_of_energy, unknown])
    solid = 50910534 - 1  # the recorded head, less the solidification lag
    assert statuses[trx_ok].state == TxStatus.INCLUDED and statuses[trx_ok].fee_paid == 0
    assert statuses[usdt_ok].state == TxStatus.INCLUDED
    assert statuses[usdt_ok].confirmations == solid - 50910530 + 1
    assert statuses[usdt_ok].fee_paid == Decimal("13.844850")
    assert (statuses[revert].state, statuses[revert].fee_paid) == (TxStatus.REVERTED, Decimal("1.345000"))
    assert statuses[out_of_energy].state == TxStatus.REVERTED
    assert statuses[unknown].state == TxStatus.NOT_FOUND


def test_a_fee_limit_below_the_energy_cost_runs_out_of_energy(adapter, node):
    cheap = CoinConfig(currency="USDT", decimals=6, contract_address=USDT_CONTRACT, fee_cap=Decimal("5"))
    signed = adapter.build_and_sign(coin=cheap, to_address=TO, amount=Decimal("5"), private_key=KEY)
    adapter.broadcast(signed)
    node.advance(2)
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert status.state == TxStatus.REVERTED
    assert status.fee_paid == Decimal("5") + simulated_bandwidth_fee(signed)  # the whole fee_limit burned


def test_recorded_chain_is_shared_across_instances_and_advances_with_time(tmp_path, clock):
    first = RecordedTronBackend(tmp_path / "shared", recordings=RECORDINGS, block_seconds=3, clock=clock)
    adapter = TronAdapter(NetworkConfig(code="TRON", kind="tron"), backend=first, clock=clock)
    signed = adapter.build_and_sign(coin=TRX, to_address=TO, amount=Decimal("1"), private_key=KEY)
    adapter.broadcast(signed)
    clock.now[0] += 9  # three blocks
    second = RecordedTronBackend(tmp_path / "shared", recordings=RECORDINGS, block_seconds=3, clock=clock)
    other = TronAdapter(NetworkConfig(code="TRON", kind="tron"), backend=second, clock=clock)
    status = other.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert (status.state, status.confirmations) == (TxStatus.INCLUDED, 2)


# --- The HTTP backend (answers mocked at the HTTP layer) -------------------------------------


def http_node(handler) -> TronAdapter:
    backend = TronHttpBackend("https://node.example", api_key="k", transport=httpx.MockTransport(handler))
    return TronAdapter(NetworkConfig(code="TRON", kind="tron", rpc_url="https://node.example"), backend=backend)


def test_http_backend_maps_unreachable_and_busy_to_transient():
    def unreachable(request):
        raise httpx.ConnectTimeout("timed out")

    signed = SignedTransaction(tx_hash="aa" * 32, raw=json.dumps({"txID": "aa" * 32}), sender=SENDER)
    with pytest.raises(TransientChainError):
        http_node(unreachable).broadcast(signed)
    with pytest.raises(TransientChainError):
        http_node(lambda request: httpx.Response(503, text="busy")).broadcast(signed)
    busy = {"code": "SERVER_BUSY", "txid": "aa" * 32, "message": "536572766572206275737921"}
    with pytest.raises(TransientChainError, match="Server busy!"):
        http_node(lambda request: httpx.Response(200, json=busy)).broadcast(signed)


def test_http_backend_posts_to_the_node_with_the_api_key():
    seen = []

    def handler(request):
        seen.append((request.url.path, request.headers.get("TRON-PRO-API-KEY"), json.loads(request.content)))
        return httpx.Response(200, json={"result": True, "txid": "aa" * 32})

    signed = SignedTransaction(tx_hash="aa" * 32, raw=json.dumps({"txID": "aa" * 32}), sender=SENDER)
    assert http_node(handler).broadcast(signed) == "aa" * 32
    assert seen == [("/wallet/broadcasttransaction", "k", {"txID": "aa" * 32})]


def test_backend_follows_the_network_config(tmp_path, monkeypatch):
    monkeypatch.setenv("TRON_TEST_CHAIN_DIR", str(tmp_path / "demo"))
    recorded = backend_for(NetworkConfig(code="TRON", kind="tron"))
    assert isinstance(recorded, RecordedTronBackend) and recorded.directory == tmp_path / "demo"
    assert isinstance(backend_for(NetworkConfig(code="TRON", kind="tron", rpc_url="https://x")), TronHttpBackend)


# --- Fees ------------------------------------------------------------------------------------


def test_fee_estimates_use_the_energy_price_and_stay_under_the_cap(adapter):
    assert adapter.estimate_fee(TRX) == Decimal("0.35")
    assert adapter.estimate_fee(USDT) == Decimal("27.65")  # 65,000 × 420 SUN + 0.35 bandwidth
    capped = CoinConfig(currency="USDT", decimals=6, contract_address=USDT_CONTRACT, fee_cap=Decimal("20"))
    assert adapter.estimate_fee(capped) == Decimal("20.35")


# --- Signed messages -------------------------------------------------------------------------


def test_message_signature_matches_tronpy_and_verifies():
    signature = sign_message(KEY, "withdrawal address proof")
    tronpy_signature = PrivateKey(KEY).sign_msg(b"withdrawal address proof").hex()
    assert signature[2:130] == tronpy_signature[:128]
    assert address_from_private_key(KEY) == SENDER
    assert verify_message(address=SENDER, message="withdrawal address proof", signature=signature)
    assert verify_message(address=SENDER, message="withdrawal address proof", signature=tronpy_signature)


def test_ethereum_prefixed_signatures_are_accepted():
    signature = Account.sign_message(encode_defunct(text="proof"), private_key=KEY).signature.hex()
    assert TronAdapter(NetworkConfig(code="TRON", kind="tron")).verify_message(
        address=SENDER, message="proof", signature=signature)


@pytest.mark.parametrize("case", ["other_message", "other_address", "garbage", "short", "empty", "bad_address"])
def test_forged_or_malformed_signatures_are_false(case):
    message, address, signature = "proof", SENDER, sign_message(KEY, "proof")
    if case == "other_message":
        message = "proof!"
    elif case == "other_address":
        address = TO
    elif case == "garbage":
        signature = "0xzz" + signature[4:]
    elif case == "short":
        signature = signature[:100]
    elif case == "empty":
        signature = ""
    elif case == "bad_address":
        address = "T" + "1" * 33
    assert verify_message(address=address, message=message, signature=signature) is False
