"""The BTC adapter: BIP-84 keys, addresses per network, coin selection, P2WPKH signing with RBF
fee bumps, BIP-137 messages, the local test chain and bitcoind's answers. No database, no
network, and bitcoinlib writes no database anywhere."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
from decimal import Decimal
from pathlib import Path

import base58
import httpx
import pytest

from chains.adapters.base import (
    AddressError,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    TransientChainError,
    TxStatus,
)
from chains.adapters.bitcoin.adapter import UtxoAdapter
from chains.adapters.bitcoin.backends import BitcoindRpcBackend, LocalTestChainBackend, backend_for
from chains.adapters.bitcoin.codec import (
    DUST_LIMIT_SAT,
    FeeCapExceeded,
    InsufficientFunds,
    Utxo,
    btc_to_sat,
    bumped_fee_rate,
    decode_address,
    derive_private_key,
    estimate_vsize,
    fee_for,
    hash160,
    hot_wallet_address,
    p2wpkh_script,
    parse_transaction,
    public_key,
    select_coins,
    sign_message,
    verify_message,
)

MNEMONIC = " ".join(["abandon"] * 11 + ["about"])
LOCAL = "bitcoinlib_test"
BTC = CoinConfig(currency="BTC", decimals=8, fee_cap=Decimal("0.001"))
RECIPIENT_KEY = bytes(31) + b"\x07"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Everything here is pure or local: any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def hot_key() -> bytes:
    return derive_private_key(MNEMONIC)


@pytest.fixture
def chain(tmp_path) -> LocalTestChainBackend:
    return LocalTestChainBackend(tmp_path / "chain")


@pytest.fixture
def adapter(chain) -> UtxoAdapter:
    return UtxoAdapter(NetworkConfig(code="BTC", kind="utxo", address_network=LOCAL), backend=chain)


def recipient(network: str = LOCAL) -> str:
    return hot_wallet_address(RECIPIENT_KEY, address_network=network)


def hot_utxos(key: bytes, *values: int) -> list[Utxo]:
    script = p2wpkh_script(hash160(public_key(key))).hex()
    return [Utxo(f"{n + 1:064x}", n, value, script) for n, value in enumerate(values)]


# --- Keys (BIP-84 test vectors) ----------------------------------------------------------------


def test_bip84_vectors():
    key = derive_private_key(MNEMONIC, "m/84'/0'/0'/0/0")
    assert key == base58.b58decode_check("KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d")[1:33]
    assert public_key(key).hex() == "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c"
    assert hot_wallet_address(key) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert hot_wallet_address(derive_private_key(MNEMONIC, "m/84'/0'/0'/0/1")) == \
        "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert hot_wallet_address(derive_private_key(MNEMONIC, "m/84'/0'/0'/1/0")) == \
        "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"


def test_the_same_key_has_an_address_per_network(hot_key):
    assert hot_wallet_address(hot_key, address_network="testnet").startswith("tb1q")
    assert hot_wallet_address(hot_key, address_network="regtest").startswith("bcrt1q")
    assert hot_wallet_address(hot_key, address_network=LOCAL) == "blt1qcr8te4kr609gcawutmrza0j4xv80jy8zdajrma"


# --- Addresses -------------------------------------------------------------------------------

P2PKH = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173
P2WSH = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"  # BIP-173
P2TR = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"  # BIP-350
TESTNET_P2WPKH = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"  # BIP-173
TESTNET_P2PKH = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
TESTNET_P2SH = "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc"
REGTEST_P2WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
LOCAL_P2WPKH = "blt1qcr8te4kr609gcawutmrza0j4xv80jy8zdajrma"
ETH_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.mark.parametrize(("network", "address", "canonical"), [
    ("bitcoin", P2PKH, P2PKH),
    ("bitcoin", P2SH, P2SH),
    ("bitcoin", P2WPKH, P2WPKH),
    ("bitcoin", P2WPKH.upper(), P2WPKH),
    ("bitcoin", P2WSH, P2WSH),
    ("bitcoin", P2TR, P2TR),
    ("testnet", TESTNET_P2WPKH, TESTNET_P2WPKH),
    ("testnet", TESTNET_P2PKH, TESTNET_P2PKH),
    ("testnet", TESTNET_P2SH, TESTNET_P2SH),
    ("regtest", REGTEST_P2WPKH, REGTEST_P2WPKH),
    ("regtest", TESTNET_P2PKH, TESTNET_P2PKH),  # regtest shares testnet's base58 prefixes
    (LOCAL, LOCAL_P2WPKH, LOCAL_P2WPKH),
    ("", P2WPKH, P2WPKH),  # mainnet by default
])
def test_valid_addresses_normalize(network, address, canonical):
    assert UtxoAdapter.normalize_address(address, address_network=network) == canonical


@pytest.mark.parametrize(("network", "address", "code"), [
    ("bitcoin", TESTNET_P2WPKH, "network_mismatch"),
    ("bitcoin", TESTNET_P2PKH, "network_mismatch"),
    ("bitcoin", TESTNET_P2SH, "network_mismatch"),
    ("bitcoin", REGTEST_P2WPKH, "network_mismatch"),
    ("bitcoin", LOCAL_P2WPKH, "network_mismatch"),
    ("testnet", P2WPKH, "network_mismatch"),
    ("testnet", P2PKH, "network_mismatch"),
    ("testnet", REGTEST_P2WPKH, "network_mismatch"),
    (LOCAL, P2WPKH, "network_mismatch"),
    ("bitcoin", P2PKH[:-1] + "b", "invalid_address"),  # base58 checksum
    ("bitcoin", P2WPKH[:-1] + "5", "invalid_address"),  # bech32 checksum
    ("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8f3t4", "invalid_address"),  # mixed case
    # v1 with a bech32 (not bech32m) checksum, BIP-350's invalid list
    ("bitcoin", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "invalid_address"),
    # witness v16: valid bech32m, but funds would be anyone-can-spend today
    ("bitcoin", "BC1SW50QGDZ25J", "invalid_address"),
    ("bitcoin", "", "invalid_address"),
    ("bitcoin", " " + P2WPKH, "invalid_address"),
    ("bitcoin", P2WPKH + "\n", "invalid_address"),
    ("bitcoin", "bc1q" + "q" * 100, "invalid_address"),
    ("bitcoin", P2PKH * 3, "invalid_address"),
    ("bitcoin", ETH_ADDRESS, "invalid_address"),
    ("bitcoin", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "invalid_address"),  # TRON
    ("bitcoin", "not an address", "invalid_address"),
])
def test_invalid_addresses_are_refused_with_a_code(network, address, code):
    with pytest.raises(AddressError) as caught:
        UtxoAdapter.normalize_address(address, address_network=network)
    assert caught.value.code == code


# --- Amounts, fee rates, coin selection ------------------------------------------------------


def test_amounts_convert_exactly_and_refuse_a_ninth_decimal():
    assert btc_to_sat(Decimal("0.00000001")) == 1
    assert btc_to_sat(Decimal("21000000")) == 2_100_000_000_000_000
    assert btc_to_sat(Decimal("1.10000000")) == 110_000_000
    for bad in (Decimal("0.000000001"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            btc_to_sat(bad)


def test_fee_bump_rate_rises_by_a_quarter_and_at_least_one_sat_per_vbyte():
    assert bumped_fee_rate(Decimal("2"), 0) == 2
    assert bumped_fee_rate(Decimal("2"), 1) == 3  # +1 beats +25 %
    assert bumped_fee_rate(Decimal("10"), 1) == Decimal("12.5")
    assert bumped_fee_rate(Decimal("10"), 2) == Decimal("15.625")
    assert bumped_fee_rate(Decimal("0.5"), 0) == 1  # never below the relay minimum


def test_vsize_estimate_bounds_a_real_one_input_two_output_transaction():
    assert estimate_vsize(1, [22, 22]) == 141  # 140.5 vB with a 72-byte signature


def test_selection_takes_the_largest_utxos_first_and_returns_change(hot_key):
    utxos = hot_utxos(hot_key, 20_000, 50_000, 30_000)
    selection = select_coins(utxos, amount_sat=60_000, fee_rate=Decimal("2"), recipient_script_length=22)
    assert [u.value_sat for u in selection.inputs] == [50_000, 30_000]
    assert selection.fee_sat == fee_for(estimate_vsize(2, [22, 22]), Decimal("2"))
    assert selection.change_sat == 80_000 - 60_000 - selection.fee_sat


def test_change_below_dust_goes_to_the_fee(hot_key):
    utxos = hot_utxos(hot_key, 100_000)
    no_change_fee = fee_for(estimate_vsize(1, [22]), Decimal("2"))
    amount = 100_000 - no_change_fee - (DUST_LIMIT_SAT - 100)
    selection = select_coins(utxos, amount_sat=amount, fee_rate=Decimal("2"), recipient_script_length=22)
    assert selection.change_sat == 0
    assert selection.fee_sat == 100_000 - amount


def test_not_enough_utxos_is_insufficient_funds(hot_key):
    with pytest.raises(InsufficientFunds):
        select_coins(hot_utxos(hot_key, 10_000, 5_000), amount_sat=15_000, fee_rate=Decimal("1"),
                     recipient_script_length=22)


# --- Signing ---------------------------------------------------------------------------------


def sign(adapter, key, utxos, *, amount="0.0006", fee_bump=0, rate="2", coin=BTC, to=None):
    return adapter.build_and_sign(coin=coin, to_address=to or recipient(), amount=Decimal(amount), private_key=key,
                                  fee_bump=fee_bump, utxos=utxos, fee_rate_sat_vb=Decimal(rate))


def test_signed_p2wpkh_transaction_verifies_and_its_txid_is_the_hash_of_its_bytes(adapter, hot_key):
    utxos = hot_utxos(hot_key, 50_000, 30_000, 20_000)
    signed = sign(adapter, hot_key, utxos)

    tx = parse_transaction(signed.raw, address_network=LOCAL)
    values = {(u.txid, u.vout): u.value_sat for u in utxos}
    for inp in tx.inputs:
        inp.value = values[(inp.prev_txid.hex(), inp.output_n_int)]
        assert inp.sequence < 0xFFFFFFFE  # RBF signalled
    assert tx.verify()
    legacy_bytes = tx.raw(witness_type="legacy")  # the serialization without witness data
    assert hashlib.sha256(hashlib.sha256(legacy_bytes).digest()).digest()[::-1].hex() == signed.tx_hash == tx.txid

    assert signed.sender == hot_wallet_address(hot_key, address_network=LOCAL)
    assert tx.outputs[0].value == 60_000
    assert tx.outputs[0].lock_script == decode_address(recipient(), address_network=LOCAL).script_pubkey
    fee = sum(values.values()) - sum(o.value for o in tx.outputs) - 20_000  # the 20k UTXO is not spent
    assert signed.meta["fee_sat"] == fee and signed.max_fee == Decimal(fee) / 10**8
    assert signed.meta["change"] == {"address": signed.sender, "vout": 1, "value_sat": tx.outputs[1].value}
    assert [i["value_sat"] for i in signed.meta["inputs"]] == [50_000, 30_000]
    assert Decimal(fee) / signed.meta["vsize"] >= 2  # at least the requested rate


def test_fee_within_the_cap_is_paid_and_above_it_refused(adapter, hot_key):
    utxos = hot_utxos(hot_key, 1_000_000)
    assert sign(adapter, hot_key, utxos, rate="10").max_fee <= BTC.fee_cap
    tight = CoinConfig(currency="BTC", decimals=8, fee_cap=Decimal("0.00001"))  # 1000 sat
    with pytest.raises(FeeCapExceeded):
        sign(adapter, hot_key, utxos, rate="10", coin=tight)


def test_fee_bump_pays_more_and_spends_the_same_inputs(adapter, hot_key):
    utxos = hot_utxos(hot_key, 50_000, 30_000, 20_000)
    first = sign(adapter, hot_key, utxos)
    bumped = sign(adapter, hot_key, utxos, fee_bump=1)
    assert bumped.meta["fee_sat"] > first.meta["fee_sat"]
    assert Decimal(bumped.meta["fee_rate_sat_vb"]) >= Decimal(first.meta["fee_rate_sat_vb"]) + 1
    first_inputs = {(i["txid"], i["vout"]) for i in first.meta["inputs"]}
    assert first_inputs <= {(i["txid"], i["vout"]) for i in bumped.meta["inputs"]}
    assert bumped.tx_hash != first.tx_hash


def test_only_hot_wallet_utxos_are_spent(adapter, hot_key):
    foreign = hot_utxos(RECIPIENT_KEY, 100_000)
    with pytest.raises(ValueError):
        sign(adapter, hot_key, foreign)


def test_amount_with_nine_decimals_is_refused(adapter, hot_key):
    with pytest.raises(ValueError):
        sign(adapter, hot_key, hot_utxos(hot_key, 100_000), amount="0.000600001")


# --- The local test chain --------------------------------------------------------------------


def test_local_chain_accepts_mines_and_counts_confirmations(adapter, chain, hot_key):
    chain.fund(hot_wallet_address(hot_key, address_network=LOCAL), 100_000)
    signed = adapter.build_and_sign(coin=BTC, to_address=recipient(), amount=Decimal("0.0005"), private_key=hot_key)

    assert adapter.broadcast(signed) == signed.tx_hash
    assert adapter.broadcast(signed) == signed.tx_hash  # already known: success
    assert adapter.tx_statuses([signed.tx_hash])[signed.tx_hash].state == TxStatus.PENDING

    chain.mine(3)
    status = adapter.tx_statuses([signed.tx_hash])[signed.tx_hash]
    assert status.state == TxStatus.INCLUDED
    assert status.confirmations == 3
    assert status.block_number == chain.block_height() - 2
    assert status.fee_paid == signed.max_fee

    # The recipient and the change are spendable outputs now.
    assert [u.value_sat for u in chain.utxos(recipient())] == [50_000]
    assert adapter.tx_statuses(["ab" * 32])["ab" * 32].state == TxStatus.NOT_FOUND


def test_local_chain_rejects_a_double_spend_and_accepts_an_rbf_replacement(adapter, chain, hot_key):
    chain.fund(hot_wallet_address(hot_key, address_network=LOCAL), 100_000)
    utxos = chain.utxos(hot_wallet_address(hot_key, address_network=LOCAL))
    first = sign(adapter, hot_key, utxos)
    adapter.broadcast(first)

    same_fee_other_recipient = sign(adapter, hot_key, utxos, to=hot_wallet_address(bytes(31) + b"\x09",
                                                                                   address_network=LOCAL))
    with pytest.raises(PermanentChainError, match="insufficient fee"):
        adapter.broadcast(same_fee_other_recipient)

    bumped = sign(adapter, hot_key, utxos, fee_bump=1)
    adapter.broadcast(bumped)
    statuses = adapter.tx_statuses([first.tx_hash, bumped.tx_hash])
    assert statuses[first.tx_hash].state == TxStatus.NOT_FOUND  # replaced
    assert statuses[bumped.tx_hash].state == TxStatus.PENDING

    chain.mine()
    with pytest.raises(PermanentChainError, match="missingorspent"):
        adapter.broadcast(first)  # its input is spent in a block now


def test_local_chain_refuses_bad_signatures_and_unknown_inputs(adapter, chain, hot_key):
    signed = sign(adapter, hot_key, hot_utxos(hot_key, 100_000))
    with pytest.raises(PermanentChainError, match="missingorspent"):
        adapter.broadcast(signed)  # the UTXO was never on this chain

    chain.fund(hot_wallet_address(hot_key, address_network=LOCAL), 100_000)
    utxos = chain.utxos(hot_wallet_address(hot_key, address_network=LOCAL))
    good = sign(adapter, hot_key, utxos)
    amount_hex = (60_000).to_bytes(8, "little").hex()
    tampered = good.raw.replace(amount_hex, (61_000).to_bytes(8, "little").hex(), 1)
    assert tampered != good.raw
    with pytest.raises(PermanentChainError, match="signature"):
        chain.broadcast(tampered)
    with pytest.raises(PermanentChainError, match="decode"):
        chain.broadcast("00ff")


def test_local_chain_state_is_shared_through_its_directory_and_mines_with_time(tmp_path, hot_key):
    now = [1_000.0]
    first = LocalTestChainBackend(tmp_path / "shared", block_seconds=10, clock=lambda: now[0])
    utxo = first.fund(hot_wallet_address(hot_key, address_network=LOCAL), 10_000)
    second = LocalTestChainBackend(tmp_path / "shared", block_seconds=10, clock=lambda: now[0])
    assert second.block_height() == 1
    assert second.utxos(utxo.address) == [utxo]
    now[0] += 35
    assert first.block_height() == 4
    assert json.loads((tmp_path / "shared" / "chain.json").read_text())["height"] == 4


def test_backend_follows_the_network_config(tmp_path, monkeypatch):
    monkeypatch.setenv("BTC_TEST_CHAIN_DIR", str(tmp_path / "demo"))
    local = backend_for(NetworkConfig(code="BTC", kind="utxo"), address_network=LOCAL)
    assert isinstance(local, LocalTestChainBackend) and local.directory == tmp_path / "demo"
    remote = backend_for(NetworkConfig(code="BTC", kind="utxo", rpc_url="http://u:p@node:8332"),
                         address_network="bitcoin")
    assert isinstance(remote, BitcoindRpcBackend)
    assert UtxoAdapter(NetworkConfig(code="BTC", kind="utxo")).address_network == LOCAL


# --- bitcoind (answers mocked at the HTTP layer) ---------------------------------------------


def bitcoind(answers: dict) -> tuple[BitcoindRpcBackend, list]:
    seen: list = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((body["method"], body["params"], request.headers.get("authorization")))
        answer = answers[body["method"]]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, tuple):  # (code, message): an RPC error
            return httpx.Response(500, json={"result": None, "error": {"code": answer[0], "message": answer[1]}})
        return httpx.Response(200, json={"result": answer, "error": None})

    backend = BitcoindRpcBackend("http://user:secret@node:18443", address_network=LOCAL,
                                 transport=httpx.MockTransport(handle))
    return backend, seen


@pytest.mark.parametrize("message", ["Transaction already in block chain", "txn-already-known",
                                     "txn-already-in-mempool", "Transaction outputs already in utxo set"])
def test_bitcoind_already_known_is_success(adapter, hot_key, message):
    signed = sign(adapter, hot_key, hot_utxos(hot_key, 100_000))
    backend, seen = bitcoind({"sendrawtransaction": (-27, message)})
    assert backend.broadcast(signed.raw) == signed.tx_hash
    assert seen[0][2].startswith("Basic ")


def test_bitcoind_refusal_is_permanent_and_unreachable_is_transient(adapter, hot_key):
    signed = sign(adapter, hot_key, hot_utxos(hot_key, 100_000))
    backend, _ = bitcoind({"sendrawtransaction": (-26, "min relay fee not met")})
    with pytest.raises(PermanentChainError, match="min relay fee"):
        backend.broadcast(signed.raw)
    backend, _ = bitcoind({"sendrawtransaction": httpx.ConnectError("refused")})
    with pytest.raises(TransientChainError) as caught:
        backend.broadcast(signed.raw)
    assert "secret" not in str(caught.value)


def test_bitcoind_statuses_read_the_height_once(hot_key):
    backend, seen = bitcoind({
        "getblockcount": 110,
        "getrawtransaction": {"txid": "aa" * 32, "blockhash": "bb" * 32, "confirmations": 3, "fee": 0.00000418},
        "getblockheader": {"height": 108},
        "estimatesmartfee": {"errors": ["Insufficient data"], "blocks": 0},
    })
    adapter = UtxoAdapter(NetworkConfig(code="BTC", kind="utxo", rpc_url="http://x", address_network=LOCAL),
                          backend=backend)
    status = adapter.tx_statuses(["aa" * 32])["aa" * 32]
    assert (status.state, status.confirmations, status.block_number, status.fee_paid) == \
        (TxStatus.INCLUDED, 3, 108, Decimal("0.00000418"))
    assert [s[0] for s in seen].count("getblockcount") == 1
    assert backend.fee_rate_sat_vb() == BitcoindRpcBackend.FALLBACK_FEE_RATE_SAT_VB


# --- Signed messages -------------------------------------------------------------------------


def test_known_bip137_signature_verifies_and_signing_reproduces_it():
    # bitcoinjs-message's README example (compressed key, P2PKH header)
    wif_key = base58.b58decode_check("L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1")[1:33]
    message = "This is an example of a signed message."
    signature = "H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk="
    assert verify_message(address="1F3sAm6ZtwLAUnj7d38pGFxtP3RVEvtsbV", message=message, signature=signature)
    assert sign_message(wif_key, message, "p2pkh") == signature


def addresses_of(key: bytes) -> dict[str, str]:
    pubkey_hash = hash160(public_key(key))
    return {"p2wpkh": hot_wallet_address(key),
            "p2sh-p2wpkh": base58.b58encode_check(b"\x05" + hash160(p2wpkh_script(pubkey_hash))).decode(),
            "p2pkh": base58.b58encode_check(b"\x00" + pubkey_hash).decode()}


@pytest.mark.parametrize("address_type", ["p2wpkh", "p2sh-p2wpkh", "p2pkh"])
def test_signatures_verify_for_each_address_type_of_the_key(hot_key, address_type):
    signature = sign_message(hot_key, "I own this address", address_type)
    for address in addresses_of(hot_key).values():
        assert verify_message(address=address, message="I own this address", signature=signature)
    for address in addresses_of(RECIPIENT_KEY).values():
        assert not verify_message(address=address, message="I own this address", signature=signature)


def test_adapter_verifies_on_its_own_network(adapter, hot_key):
    signature = UtxoAdapter.sign_message(hot_key, "withdrawal address proof")
    address = hot_wallet_address(hot_key, address_network=LOCAL)
    assert adapter.verify_message(address=address, message="withdrawal address proof", signature=signature)


@pytest.mark.parametrize("case", ["other_message", "other_address", "garbage", "truncated", "empty", "bad_header",
                                  "bad_address", "not_base64"])
def test_forged_or_malformed_signatures_are_false(hot_key, case):
    message, address = "I own this address", hot_wallet_address(hot_key)
    signature = sign_message(hot_key, message)
    if case == "other_message":
        message = "I own that address"
    elif case == "other_address":
        address = hot_wallet_address(RECIPIENT_KEY)
    elif case == "garbage":
        signature = "A" * 88
    elif case == "truncated":
        signature = signature[:40]
    elif case == "empty":
        signature = ""
    elif case == "bad_header":
        raw = bytearray(base64.b64decode(signature))
        raw[0] = 50
        signature = base64.b64encode(bytes(raw)).decode()
    elif case == "bad_address":
        address = "bc1qnotanaddress"
    elif case == "not_base64":
        signature = "!!!" + signature[3:]
    assert verify_message(address=address, message=message, signature=signature) is False


# --- No side databases -----------------------------------------------------------------------


def database_files(*roots: Path) -> set[Path]:
    found: set[Path] = set()
    for root in roots:
        if root.is_dir():
            for pattern in ("*.db", "*.sqlite", "*.sqlite3"):
                found.update(root.rglob(pattern))
    return found


def test_bitcoinlib_creates_no_database_anywhere(tmp_path, hot_key):
    repo = Path(__file__).resolve().parents[2]
    roots = [Path(os.environ["BCL_DATA_DIR"]), Path.home() / ".bitcoinlib", Path.cwd(), *(
        p for p in repo.iterdir() if p.is_dir() and p.name not in {".venv", "node_modules", "var", ".git"})]
    before = database_files(*roots)

    chain = LocalTestChainBackend(tmp_path / "chain")
    adapter = UtxoAdapter(NetworkConfig(code="BTC", kind="utxo", address_network=LOCAL), backend=chain)
    chain.fund(hot_wallet_address(hot_key, address_network=LOCAL), 100_000)
    signed = adapter.build_and_sign(coin=BTC, to_address=recipient(), amount=Decimal("0.0005"), private_key=hot_key)
    adapter.broadcast(signed)
    chain.mine()
    adapter.tx_statuses([signed.tx_hash])
    verify_message(address=hot_wallet_address(hot_key), message="m", signature=sign_message(hot_key, "m"))

    assert database_files(*roots) == before
    assert not (Path.home() / ".bitcoinlib").exists() or Path(os.environ["BCL_DATA_DIR"]) == \
        Path.home() / ".bitcoinlib"
    import bitcoinlib.config.config as bcl_config

    assert Path(bcl_config.BCL_DATA_DIR) == Path(os.environ["BCL_DATA_DIR"])
    assert bcl_config.SERVICE_CACHING_ENABLED is False
    assert sorted(p.name for p in (tmp_path / "chain").iterdir()) == ["chain.json", "chain.lock"]
