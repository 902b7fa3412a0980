"""Nodes behind the BTC adapter: bitcoind over JSON-RPC, or a local simulated chain.

``backend_for(network)`` picks one: a non-empty ``rpc_url`` means bitcoind; none means the
``LocalTestChainBackend`` on bitcoinlib's ``bitcoinlib_test`` network, whose state is a JSON
file (with a file lock) under ``BTC_TEST_CHAIN_DIR`` (default ``<BCL_DATA_DIR>/testchain``), so
the web process, the workers and the tests all see one chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from chains.adapters.base import NetworkConfig, PermanentChainError, TransientChainError
from chains.adapters.bitcoin.codec import (
    SATS_PER_BTC,
    Utxo,
    hash160,
    p2wpkh_script,
    parse_transaction,
    script_to_address,
)
from chains.adapters.local_state import locked_json_state


@dataclass(frozen=True)
class TxLookup:
    """Where a known transaction is: ``block_height`` None means in the mempool."""

    block_height: int | None = None
    block_hash: str | None = None
    fee_sat: int | None = None


class BitcoinBackend(Protocol):
    def broadcast(self, raw_hex: str) -> str: ...

    def block_height(self) -> int: ...

    def lookup(self, txid: str) -> TxLookup | None: ...

    def fee_rate_sat_vb(self) -> Decimal: ...

    def utxos(self, address: str) -> list[Utxo]: ...

    def spender(self, txid: str, vout: int) -> str | None: ...


def backend_for(network: NetworkConfig, *, address_network: str) -> BitcoinBackend:
    if network.rpc_url:
        return BitcoindRpcBackend(network.rpc_url, address_network=address_network)
    # The embedded default mines on its own (BTC_TEST_BLOCK_SECONDS, 10 s) so the demo's BTC
    # withdrawals confirm; tests set it to 0 and mine explicitly.
    return LocalTestChainBackend(default_test_chain_dir(), address_network=address_network or "bitcoinlib_test",
                                 block_seconds=float(os.environ.get("BTC_TEST_BLOCK_SECONDS", "10")))


def default_test_chain_dir() -> Path:
    configured = os.environ.get("BTC_TEST_CHAIN_DIR", "").strip()
    return Path(configured) if configured else Path(os.environ["BCL_DATA_DIR"]) / "testchain"


# --- bitcoind --------------------------------------------------------------------------------


class BitcoindError(Exception):
    def __init__(self, code: int, message: str):
        self.code = code
        self.message = message
        super().__init__(f"bitcoind error {code}: {message}")


# sendrawtransaction answers meaning "this exact transaction is already there": success.
_ALREADY_KNOWN = ("already in block chain", "txn-already-known", "txn-already-in-mempool",
                  "outputs already in utxo set")
RPC_INVALID_ADDRESS_OR_KEY = -5  # getrawtransaction: no such transaction
RPC_VERIFY_ERROR = -25  # e.g. inputs missing or spent
RPC_WALLET_ERRORS = (-18, -19)  # no wallet loaded / wallet not specified


class BitcoindRpcBackend:
    """bitcoind JSON-RPC. ``rpc_url`` may carry credentials (http://user:pass@host:8332/wallet/hot);
    they are sent as basic auth and never appear in error messages."""

    # estimatesmartfee has no data on a fresh regtest/testnet node.
    FALLBACK_FEE_RATE_SAT_VB = Decimal("2")
    CONFIRMATION_TARGET = 6

    def __init__(self, rpc_url: str, *, address_network: str = "bitcoin", timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        self.address_network = address_network
        parts = urlsplit(rpc_url)
        self._auth = (parts.username or "", parts.password or "") if parts.username else None
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self._url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            response = self._client.post(self._url, json=body, auth=self._auth)
        except httpx.HTTPError as exc:
            raise TransientChainError(f"bitcoind unreachable at {self._url}: {type(exc).__name__}") from None
        try:
            payload = response.json()
        except ValueError:
            raise TransientChainError(f"bitcoind answered HTTP {response.status_code} without JSON.") from None
        error = payload.get("error") if isinstance(payload, dict) else None
        if error:
            raise BitcoindError(int(error.get("code", 0)), str(error.get("message", "")))
        if response.status_code != 200 or not isinstance(payload, dict):
            raise TransientChainError(f"bitcoind answered HTTP {response.status_code}.")
        return payload.get("result")

    def broadcast(self, raw_hex: str) -> str:
        txid = parse_transaction(raw_hex, address_network=self.address_network).txid
        try:
            return self.call("sendrawtransaction", raw_hex)
        except BitcoindError as exc:
            if any(marker in exc.message.lower() for marker in _ALREADY_KNOWN):
                return txid
            # Missing/spent inputs are also what our own tx looks like once it is mined and spent on.
            if exc.code == RPC_VERIFY_ERROR and self.lookup(txid) is not None:
                return txid
            raise PermanentChainError(f"bitcoind refused the transaction: {exc.message}") from None

    def block_height(self) -> int:
        return int(self._call_or_transient("getblockcount"))

    def lookup(self, txid: str) -> TxLookup | None:
        try:
            # Verbosity 2 adds "fee" on recent nodes; older ones treat any non-zero as verbose.
            tx = self.call("getrawtransaction", txid, 2)
        except BitcoindError as exc:
            if exc.code != RPC_INVALID_ADDRESS_OR_KEY:
                raise TransientChainError(f"getrawtransaction failed: {exc.message}") from None
            tx = self._wallet_transaction(txid)  # no txindex: the wallet may still know it
            if tx is None:
                return None
        block_hash = tx.get("blockhash")
        if not block_hash:
            return TxLookup()
        height = tx.get("blockheight")
        if height is None:
            height = self._call_or_transient("getblockheader", block_hash)["height"]
        fee = tx.get("fee")
        fee_sat = abs(int(Decimal(str(fee)) * SATS_PER_BTC)) if fee is not None else None
        return TxLookup(block_height=int(height), block_hash=block_hash, fee_sat=fee_sat)

    def _wallet_transaction(self, txid: str) -> dict | None:
        try:
            return self.call("gettransaction", txid)
        except BitcoindError:
            return None

    def fee_rate_sat_vb(self) -> Decimal:
        result = self._call_or_transient("estimatesmartfee", self.CONFIRMATION_TARGET)
        rate = result.get("feerate") if isinstance(result, dict) else None
        if rate is None:
            return self.FALLBACK_FEE_RATE_SAT_VB
        return Decimal(str(rate)) * SATS_PER_BTC / 1000  # BTC/kvB → sat/vB

    def utxos(self, address: str) -> list[Utxo]:
        """The wallet's view (listunspent, includes unconfirmed change), else a UTXO-set scan."""
        try:
            rows = self.call("listunspent", 0, 9_999_999, [address])
            return [Utxo(r["txid"], int(r["vout"]), _btc_to_sat(r["amount"]), r["scriptPubKey"], address)
                    for r in rows]
        except BitcoindError as exc:
            if exc.code not in RPC_WALLET_ERRORS:
                raise TransientChainError(f"listunspent failed: {exc.message}") from None
        scan = self._call_or_transient("scantxoutset", "start", [f"addr({address})"])
        return [Utxo(r["txid"], int(r["vout"]), _btc_to_sat(r["amount"]), r["scriptPubKey"], address)
                for r in scan.get("unspents", [])]

    def spender(self, txid: str, vout: int) -> str | None:
        """The txid spending ``txid:vout`` when the node can say (mempool spends, bitcoind 24+:
        ``gettxspendingprevout``). A confirmed spend has no index here: None, and the order it
        concerns waits for staff (withdraw_resolve)."""
        try:
            rows = self.call("gettxspendingprevout", [{"txid": txid, "vout": vout}])
        except BitcoindError:
            return None
        return (rows[0] or {}).get("spendingtxid") if rows else None

    def _call_or_transient(self, method: str, *params: Any) -> Any:
        try:
            return self.call(method, *params)
        except BitcoindError as exc:
            raise TransientChainError(f"{method} failed: {exc.message}") from None


def _btc_to_sat(amount: Any) -> int:
    return int(Decimal(str(amount)) * SATS_PER_BTC)


# --- The local simulated chain ---------------------------------------------------------------


class LocalTestChainBackend:
    """An in-process chain for bitcoinlib's ``bitcoinlib_test`` network, shared through a file.

    It checks what a node would: the tx parses, every input exists and is unspent, it spends a
    P2WPKH output with the matching key, signatures verify, and the outputs do not exceed the
    inputs. A conflicting mempool tx is replaced only under BIP-125 (it signalled RBF, the new
    one pays more, by at least 1 sat/vB of its own size); anything else conflicting is a double
    spend. ``mine(n)`` puts the whole mempool in the next block. With ``block_seconds`` > 0,
    blocks are also mined as time passes, counted lazily whenever the state is read.
    ``fund(address, value_sat)`` mints a coinbase-like output (mined at once) for demos and tests.
    """

    STATE_FILE = "chain.json"
    LOCK_FILE = "chain.lock"

    def __init__(self, directory: Path | str, *, address_network: str = "bitcoinlib_test", block_seconds: float = 0,
                 fee_rate_sat_vb: Decimal = Decimal("2"), clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.address_network = address_network
        self.block_seconds = block_seconds
        self._fee_rate = Decimal(fee_rate_sat_vb)
        self._clock = clock

    # State: {"height", "last_block_at", "tip", "txs": {txid: {...}}, "outputs": {"txid:n": {...}}}.
    @contextlib.contextmanager
    def _state(self) -> Iterator[dict]:
        with locked_json_state(self.directory, state_file=self.STATE_FILE, lock_file=self.LOCK_FILE,
                               initial=self._genesis) as state:
            self._mine_elapsed(state)
            yield state

    def _genesis(self) -> dict:
        return {"height": 0, "tip": "00" * 32, "last_block_at": self._clock(), "txs": {}, "outputs": {}}

    def _mine_elapsed(self, state: dict) -> None:
        if self.block_seconds <= 0:
            return
        due = int((self._clock() - state["last_block_at"]) // self.block_seconds)
        if due > 0:
            self._mine(state, due)
            state["last_block_at"] += due * self.block_seconds

    @staticmethod
    def _mine(state: dict, blocks: int) -> list[str]:
        hashes = []
        for _ in range(blocks):
            state["height"] += 1
            mempool = sorted(txid for txid, tx in state["txs"].items() if tx["block_height"] is None)
            block_hash = hashlib.sha256(f"{state['tip']}:{state['height']}:{','.join(mempool)}".encode()).hexdigest()
            for txid in mempool:
                state["txs"][txid].update(block_height=state["height"], block_hash=block_hash)
            state["tip"] = block_hash
            hashes.append(block_hash)
        return hashes

    def mine(self, blocks: int = 1) -> list[str]:
        """Mine ``blocks`` blocks now; the first takes the whole mempool. Returns their hashes."""
        with self._state() as state:
            state["last_block_at"] = self._clock()
            return self._mine(state, blocks)

    def fund(self, address: str, value_sat: int) -> Utxo:
        """Pay ``value_sat`` to ``address`` out of thin air, in a block mined at once."""
        from chains.adapters.bitcoin.codec import decode_address

        script = decode_address(address, address_network=self.address_network).script_pubkey.hex()
        with self._state() as state:
            txid = hashlib.sha256(f"fund:{len(state['txs'])}:{state['tip']}:{address}:{value_sat}".encode()).hexdigest()
            state["txs"][txid] = {"raw": None, "fee_sat": 0, "inputs": [], "rbf": False, "block_height": None,
                                  "block_hash": None}
            state["outputs"][f"{txid}:0"] = {"value_sat": value_sat, "script_pubkey": script, "address": address,
                                             "spent_by": None}
            self._mine(state, 1)
        return Utxo(txid, 0, value_sat, script, address)

    def broadcast(self, raw_hex: str) -> str:
        try:
            tx = parse_transaction(raw_hex, address_network=self.address_network)
        except Exception:  # noqa: BLE001 - whatever bitcoinlib raises on garbage
            raise PermanentChainError("TX decode failed.") from None
        with self._state() as state:
            if tx.txid in state["txs"]:
                return tx.txid  # already known: idempotent
            self._accept(state, tx, raw_hex)
        return tx.txid

    def _accept(self, state: dict, tx, raw_hex: str) -> None:
        outputs = state["outputs"]
        conflicts: set[str] = set()
        input_total = 0
        for inp in tx.inputs:
            outpoint = f"{inp.prev_txid.hex()}:{inp.output_n_int}"
            prevout = outputs.get(outpoint)
            if prevout is None:
                raise PermanentChainError(f"bad-txns-inputs-missingorspent: {outpoint}")
            if prevout["spent_by"]:
                spender = state["txs"][prevout["spent_by"]]
                if spender["block_height"] is not None:
                    raise PermanentChainError(f"bad-txns-inputs-missingorspent: {outpoint}")
                conflicts.add(prevout["spent_by"])
            own_script = p2wpkh_script(hash160(inp.keys[0].public_byte)).hex() if inp.keys else None
            if own_script != prevout["script_pubkey"]:
                raise PermanentChainError(f"mandatory-script-verify-flag-failed: {outpoint} key mismatch")
            inp.value = prevout["value_sat"]
            input_total += prevout["value_sat"]
        if not tx.verify():
            raise PermanentChainError("mandatory-script-verify-flag-failed: bad signature")
        fee = input_total - sum(out.value for out in tx.outputs)
        if fee <= 0:
            raise PermanentChainError("bad-txns-in-belowout")
        min_rate = Decimal(state.get("mempool_min_fee_sat_vb", "0"))
        if min_rate and Decimal(fee) / tx.vsize < min_rate:
            raise PermanentChainError(f"mempool min fee not met, {fee} < {min_rate * tx.vsize:f}")
        if conflicts:
            self._replace(state, conflicts, fee, tx.vsize)
        rbf = any(inp.sequence < 0xFFFFFFFE for inp in tx.inputs)
        state["txs"][tx.txid] = {"raw": raw_hex, "fee_sat": fee, "vsize": tx.vsize, "rbf": rbf,
                                 "inputs": [f"{i.prev_txid.hex()}:{i.output_n_int}" for i in tx.inputs],
                                 "block_height": None, "block_hash": None}
        for outpoint in state["txs"][tx.txid]["inputs"]:
            outputs[outpoint]["spent_by"] = tx.txid
        for n, out in enumerate(tx.outputs):
            outputs[f"{tx.txid}:{n}"] = {"value_sat": out.value, "script_pubkey": out.lock_script.hex(),
                                         "address": script_to_address(out.lock_script,
                                                                      address_network=self.address_network),
                                         "spent_by": None}

    @staticmethod
    def _replace(state: dict, conflicts: set[str], fee: int, vsize: int) -> None:
        """BIP-125, simplified: evict ``conflicts`` if all signal RBF and the new fee is high enough."""
        old = [state["txs"][txid] for txid in conflicts]
        if not all(tx["rbf"] for tx in old):
            raise PermanentChainError("txn-mempool-conflict")
        if fee < sum(tx["fee_sat"] for tx in old) + vsize:  # pays for its own relay at 1 sat/vB
            raise PermanentChainError("insufficient fee: replacement does not pay enough")
        for txid in conflicts:
            if any(o["spent_by"] for k, o in state["outputs"].items() if k.startswith(f"{txid}:")):
                raise PermanentChainError("replacement would evict descendants")
        for txid in conflicts:
            LocalTestChainBackend._evict(state, txid)

    @staticmethod
    def _evict(state: dict, txid: str) -> None:
        for outpoint in state["txs"].pop(txid)["inputs"]:
            state["outputs"][outpoint]["spent_by"] = None
        for key in [k for k in state["outputs"] if k.startswith(f"{txid}:")]:
            del state["outputs"][key]

    def drop(self, txid: str) -> None:
        """Evict an unconfirmed transaction from the mempool (as a node under memory pressure does)."""
        with self._state() as state:
            tx = state["txs"].get(txid)
            if tx is None or tx["block_height"] is not None:
                raise ValueError(f"{txid} is not in the mempool")
            self._evict(state, txid)

    def set_mempool_min_fee(self, sat_vb: Decimal | int | str) -> None:
        """The rate below which the node refuses new transactions (0: none), as bitcoind's
        ``mempoolminfee`` rises when its mempool is full."""
        with self._state() as state:
            state["mempool_min_fee_sat_vb"] = str(sat_vb)

    def spender(self, txid: str, vout: int) -> str | None:
        """The txid of the transaction (mempool or block) spending ``txid:vout``, if any."""
        with self._state() as state:
            out = state["outputs"].get(f"{txid}:{vout}")
        return out["spent_by"] if out else None

    def block_height(self) -> int:
        with self._state() as state:
            return state["height"]

    def lookup(self, txid: str) -> TxLookup | None:
        with self._state() as state:
            tx = state["txs"].get(txid)
        if tx is None:
            return None
        return TxLookup(block_height=tx["block_height"], block_hash=tx["block_hash"], fee_sat=tx["fee_sat"])

    def fee_rate_sat_vb(self) -> Decimal:
        return self._fee_rate

    def utxos(self, address: str) -> list[Utxo]:
        """Unspent outputs paying ``address``, unconfirmed ones included (like listunspent 0)."""
        with self._state() as state:
            unspent = [(key.split(":"), out) for key, out in state["outputs"].items()
                       if out["address"] == address and not out["spent_by"]]
        return [Utxo(txid, int(vout), out["value_sat"], out["script_pubkey"], address) for (txid, vout), out in unspent]
