"""Nodes behind the TRON adapter. Both answer ``post(path, payload) -> dict`` like a full node's
HTTP API, so the adapter's parsing runs the same against either.

``backend_for(network)``: a non-empty ``rpc_url`` means ``TronHttpBackend`` (the URL must serve
both /wallet and /walletsolidity, as TronGrid does); none means ``RecordedTronBackend``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import base58
import httpx

from chains.adapters.base import AddressError, NetworkConfig, TransientChainError
from chains.adapters.local_state import locked_json_state
from chains.adapters.tron.codec import (
    FALLBACK_ENERGY_PRICE_SUN,
    TRC20_TRANSFER_ENERGY,
    decode_trc20_transfer,
    encode_raw_data,
    normalize_address,
    recover_signer,
    txid_of,
)


class TronBackend(Protocol):
    def post(self, path: str, payload: dict) -> dict: ...


def backend_for(network: NetworkConfig) -> TronBackend:
    if network.rpc_url:
        return TronHttpBackend(network.rpc_url, api_key=os.environ.get("TRON_API_KEY", ""))
    recordings = os.environ.get("TRON_RECORDINGS_FILE", "").strip()
    return RecordedTronBackend(default_test_chain_dir(), recordings=Path(recordings) if recordings else None,
                               block_seconds=3)


def default_test_chain_dir() -> Path:
    configured = os.environ.get("TRON_TEST_CHAIN_DIR", "").strip()
    if configured:
        return Path(configured)
    from core.embedded import VAR_DIR

    return VAR_DIR / "tron_testchain"


class TronHttpBackend:
    """A full node's HTTP API (java-tron :8090 or TronGrid), with timeouts."""

    def __init__(self, rpc_url: str, *, api_key: str = "", timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None):
        headers = {"TRON-PRO-API-KEY": api_key} if api_key else {}
        self._base = rpc_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def post(self, path: str, payload: dict) -> dict:
        try:
            response = self._client.post(self._base + path, json=payload)
        except httpx.HTTPError as exc:
            raise TransientChainError(f"TRON node unreachable for {path}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientChainError(f"TRON node answered HTTP {response.status_code} for {path}.")
        try:
            answer = response.json()
        except ValueError:
            raise TransientChainError(f"TRON node answered {path} without JSON.") from None
        if not isinstance(answer, dict):
            raise TransientChainError(f"TRON node answered {path} with {type(answer).__name__}.")
        return answer


# --- The recorded / simulated node -----------------------------------------------------------

# Built-in answers, shaped like a java-tron node's (see tests/chains/recordings/ for the sources);
# a recordings file adds to or overrides them.
DEFAULT_RECORDINGS: dict = {
    "block": {
        "blockID": "0000000003a8d0c4b6f0c1f64c2a7a1e8f3d7b5c9e1a2b3c4d5e6f708192a3b4",
        "block_header": {"raw_data": {"number": 61395140, "txTrieRoot": "00" * 32,
                                      "witness_address": "41f16412b9a17ee9408646e2a21e16478f72ed1e95",
                                      "parentHash": "00" * 32, "version": 30, "timestamp": 1714000000000},
                         "witness_signature": "00" * 65},
    },
    "chain_parameters": {"chainParameter": [{"key": "getTransactionFee", "value": 1000},
                                            {"key": "getEnergyFee", "value": FALLBACK_ENERGY_PRICE_SUN}]},
    "broadcast": {
        "ok": {"result": True, "txid": ""},
        "DUP_TRANSACTION_ERROR": {"code": "DUP_TRANSACTION_ERROR", "txid": "",
                                  "message": "647570207472616e73616374696f6e"},
        "TRANSACTION_EXPIRATION_ERROR": {"code": "TRANSACTION_EXPIRATION_ERROR", "txid": "",
                                         "message": "5472616e73616374696f6e2065787069726564"},
        "SIGERROR": {"code": "SIGERROR", "txid": "",
                     "message": "56616c6964617465207369676e6174757265206572726f72"},
        "OTHER_ERROR": {"code": "OTHER_ERROR", "txid": "",
                        "message": "7261775f646174615f68657820646f6573206e6f74206d61746368"},
    },
    # Per-transaction answers for fixed txids, by endpoint (tests use recorded real shapes here).
    "transactions": {},
}


class RecordedTronBackend:
    """Replays recorded node answers and simulates the rest, for tests and the embedded default.

    The head block advances one block every ``block_seconds`` (0: only through ``advance(n)``)
    from the recorded block. A broadcast is checked like a node would (raw_data_hex matches
    raw_data, txid, signer = owner, expiration, duplicates) and is included in the block after
    the one it was sent at. The solidified head trails the head by ``solid_lag`` blocks. Fees:
    bandwidth burn for every transfer plus TRC20_TRANSFER_ENERGY × energy price for token calls
    (OUT_OF_ENERGY, fee = fee_limit, when the limit is lower). State is a JSON file under
    ``directory`` behind a file lock, so every process sees the same chain.
    """

    STATE_FILE = "tron_chain.json"
    LOCK_FILE = "tron_chain.lock"

    def __init__(self, directory: Path | str, *, recordings: Path | dict | None = None, block_seconds: float = 0,
                 solid_lag: int = 1, clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.recordings = _merge(DEFAULT_RECORDINGS, _load(recordings))
        self.block_seconds = block_seconds
        self.solid_lag = solid_lag
        self._clock = clock

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict]:
        with locked_json_state(self.directory, state_file=self.STATE_FILE, lock_file=self.LOCK_FILE,
                               initial=lambda: {"started_at": self._clock(), "advanced": 0, "txs": {}}) as state:
            yield state

    def _head(self, state: dict) -> int:
        base = int(self.recordings["block"]["block_header"]["raw_data"]["number"])
        elapsed = int((self._clock() - state["started_at"]) // self.block_seconds) if self.block_seconds > 0 else 0
        return base + state["advanced"] + max(0, elapsed)

    def advance(self, blocks: int = 1) -> int:
        """Move the head ``blocks`` blocks on; returns the new head number."""
        with self._state() as state:
            state["advanced"] += blocks
            return self._head(state)

    def post(self, path: str, payload: dict) -> dict:
        with self._state() as state:
            head = self._head(state)
            if path in ("/wallet/getnowblock", "/walletsolidity/getnowblock"):
                return self._block(head if path.startswith("/wallet/") else head - self.solid_lag)
            if path == "/wallet/getchainparameters":
                return self.recordings["chain_parameters"]
            if path == "/wallet/broadcasttransaction":
                return self._broadcast(state, head, payload)
            if path in ("/wallet/gettransactioninfobyid", "/walletsolidity/gettransactioninfobyid"):
                return self._info(state, head, payload.get("value", ""), path)
            if path == "/wallet/gettransactionbyid":
                return self._transaction(state, payload.get("value", ""), path)
            if path == "/wallet/getaccount":
                return self._account(state, head, payload)
            if path == "/wallet/triggerconstantcontract":
                return self._constant_call(state, head, payload)
        return {"Error": f"recorded node has no answer for {path}"}

    def _block(self, number: int) -> dict:
        block = json.loads(json.dumps(self.recordings["block"]))
        base = int(block["block_header"]["raw_data"]["number"])
        block["block_header"]["raw_data"]["number"] = number
        block["block_header"]["raw_data"]["timestamp"] += (number - base) * 3000
        block["blockID"] = f"{number:016x}" + hashlib.sha256(f"block:{number}".encode()).hexdigest()[16:]
        return block

    def _answer(self, kind: str, txid: str) -> dict:
        return dict(self.recordings["broadcast"][kind], txid=txid)

    def _broadcast(self, state: dict, head: int, tx: dict) -> dict:
        txid = str(tx.get("txID", ""))
        if txid in state["txs"]:
            return self._answer("DUP_TRANSACTION_ERROR", txid)
        try:
            raw_bytes = encode_raw_data(tx["raw_data"])
            if raw_bytes.hex() != tx["raw_data_hex"] or txid_of(raw_bytes) != txid:
                return self._answer("OTHER_ERROR", txid)
            owner = tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"]
            if recover_signer(txid, tx["signature"][0]) != normalize_address(owner):
                return self._answer("SIGERROR", txid)
        except (KeyError, IndexError, TypeError, ValueError):
            return self._answer("OTHER_ERROR", txid)
        if tx["raw_data"]["expiration"] <= self._clock() * 1000:
            return self._answer("TRANSACTION_EXPIRATION_ERROR", txid)
        state["txs"][txid] = {"tx": tx, "block": head + 1, "size": len(raw_bytes) + 65 + 64}
        return self._answer("ok", txid)

    def _info(self, state: dict, head: int, txid: str, path: str) -> dict:
        recorded = self.recordings["transactions"].get(path, {}).get(txid)
        if recorded is not None:
            return recorded
        known = state["txs"].get(txid)
        if known is None or known["block"] > head:
            return {}
        raw_data = known["tx"]["raw_data"]
        bandwidth_fee = known["size"] * 1000
        info = {"id": txid, "blockNumber": known["block"],
                "blockTimeStamp": self._block(known["block"])["block_header"]["raw_data"]["timestamp"],
                "contractResult": [""], "fee": bandwidth_fee,
                "receipt": {"net_usage": known["size"], "net_fee": bandwidth_fee}}
        if raw_data["contract"][0]["type"] == "TriggerSmartContract":
            energy_fee = TRC20_TRANSFER_ENERGY * self._energy_price()
            fee_limit = int(raw_data.get("fee_limit", 0))
            out_of_energy = energy_fee > fee_limit
            energy_fee = min(energy_fee, fee_limit)
            info["fee"] = bandwidth_fee + energy_fee
            info["contractResult"] = ["" if out_of_energy else "00" * 31 + "01"]
            info["receipt"].update(energy_fee=energy_fee, energy_usage_total=TRC20_TRANSFER_ENERGY,
                                   result="OUT_OF_ENERGY" if out_of_energy else "SUCCESS")
            if out_of_energy:
                info.update(result="FAILED", resMessage="4e6f7420656e6f75676820656e65726779")
        return info

    def _transaction(self, state: dict, txid: str, path: str) -> dict:
        recorded = self.recordings["transactions"].get(path, {}).get(txid)
        if recorded is not None:
            return recorded
        known = state["txs"].get(txid)
        return dict(known["tx"]) if known else {}

    # --- balances: what was funded plus the effects of the included transactions ----------

    def fund(self, address: str, *, sun: int = 0, contract: str = "", units: int = 0) -> None:
        """Credit ``address`` with TRX (``sun``) or, with ``contract``, TRC-20 ``units`` (a deposit
        from outside; the tests and the demo fund the hot wallet with it)."""
        address = normalize_address(address)
        asset = normalize_address(contract) if contract else "TRX"
        with self._state() as state:
            funded = state.setdefault("funded", {}).setdefault(address, {})
            funded[asset] = funded.get(asset, 0) + (units if contract else sun)

    def _balance(self, state: dict, head: int, address: str, asset: str) -> int:
        """``asset`` is "TRX" (in sun) or a contract's base58 address (in token units)."""
        total = state.get("funded", {}).get(address, {}).get(asset, 0)
        for txid, known in state["txs"].items():
            if known["block"] > head:
                continue
            contract = known["tx"]["raw_data"]["contract"][0]
            value = contract["parameter"]["value"]
            owner = normalize_address(value["owner_address"])
            info = self._info(state, head, txid, "/wallet/gettransactioninfobyid")
            if asset == "TRX" and owner == address:
                total -= int(info.get("fee", 0))
            if contract["type"] == "TransferContract" and asset == "TRX":
                amount = int(value["amount"])
                total += (amount if normalize_address(value["to_address"]) == address else 0)
                total -= (amount if owner == address else 0)
            elif (contract["type"] == "TriggerSmartContract" and info.get("result") != "FAILED"
                  and normalize_address(value["contract_address"]) == asset):
                transfer = decode_trc20_transfer(value.get("data", ""))
                if transfer is not None:
                    recipient, units = transfer
                    total += units if recipient == address else 0
                    total -= units if owner == address else 0
        return total

    def _account(self, state: dict, head: int, payload: dict) -> dict:
        try:
            address = normalize_address(str(payload.get("address", "")))
        except AddressError:
            return {"Error": "invalid address"}
        sun = self._balance(state, head, address, "TRX")
        return {"address": address, "balance": sun} if sun else {}

    def _constant_call(self, state: dict, head: int, payload: dict) -> dict:
        if payload.get("function_selector") != "balanceOf(address)":
            return {"result": {"result": False, "message": "recorded node answers balanceOf only"}}
        try:
            contract = normalize_address(str(payload.get("contract_address", "")))
            owner = base58.b58encode_check(bytes([0x41]) + bytes.fromhex(payload["parameter"])[12:32]).decode()
        except (AddressError, KeyError, ValueError):
            return {"result": {"result": False, "message": "bad balanceOf call"}}
        units = self._balance(state, head, owner, contract)
        return {"result": {"result": True}, "constant_result": [f"{units:064x}"]}

    def _energy_price(self) -> int:
        params = self.recordings["chain_parameters"]["chainParameter"]
        return next(int(p["value"]) for p in params if p["key"] == "getEnergyFee")


def _load(recordings: Path | dict | None) -> dict:
    if recordings is None:
        return {}
    if isinstance(recordings, dict):
        return recordings
    return json.loads(Path(recordings).read_text())


def _merge(base: dict, extra: dict) -> dict:
    merged = json.loads(json.dumps(base))
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
