"""The ``tron`` adapter: the ChainAdapter interface over the codec and a node backend."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal

from django.views.decorators.debug import sensitive_variables

from chains.adapters.base import (
    ChainAdapter,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
)
from chains.adapters.tron.codec import (
    BANDWIDTH_FEE_TRX,
    DEFAULT_EXPIRATION_MS,
    DEFAULT_TRC20_FEE_LIMIT_TRX,
    FALLBACK_ENERGY_PRICE_SUN,
    SUCCESS_RESULTS,
    TRANSIENT_BROADCAST_CODES,
    TRC20_TRANSFER_ENERGY,
    TRX_DECIMALS,
    TransactionExpired,
    address_from_private_key,
    balance_of_parameter,
    normalize_address,
    sign_message,
    sign_raw_data,
    sun_to_trx,
    to_base_units,
    transfer_raw_data,
    verify_message,
)


class TronAdapter(ChainAdapter):
    """TRON through a full node's HTTP API (``tron_backends``): a recorded/simulated node when
    the network has no RPC URL."""

    kind = "tron"
    native_decimals = TRX_DECIMALS

    def __init__(self, network: NetworkConfig, *, backend=None, expiration_ms: int = DEFAULT_EXPIRATION_MS,
                 clock: Callable[[], float] = time.time):
        super().__init__(network)
        self._backend = backend
        self.expiration_ms = expiration_ms
        self._clock = clock

    @property
    def backend(self):
        if self._backend is None:
            from chains.adapters.tron.backends import backend_for

            self._backend = backend_for(self.network)
        return self._backend

    @classmethod
    def normalize_address(cls, address: str, *, address_network: str = "") -> str:
        return normalize_address(address)

    @staticmethod
    def fee_limit_sun(coin: CoinConfig) -> int:
        return to_base_units(coin.fee_cap if coin.fee_cap else DEFAULT_TRC20_FEE_LIMIT_TRX, TRX_DECIMALS)

    def energy_price_sun(self) -> int:
        params = self.backend.post("/wallet/getchainparameters", {}).get("chainParameter", [])
        return next((int(p["value"]) for p in params if p.get("key") == "getEnergyFee" and "value" in p),
                    FALLBACK_ENERGY_PRICE_SUN)

    def estimate_fee(self, coin: CoinConfig) -> Decimal:
        """TRX: the bandwidth burn. TRC-20: that plus TRC20_TRANSFER_ENERGY × the energy price.
        Never above the coin's fee cap (TRC-20: its fee_limit), since the chain cannot charge more."""
        fee = BANDWIDTH_FEE_TRX
        if coin.is_token:
            fee += sun_to_trx(TRC20_TRANSFER_ENERGY * self.energy_price_sun())
            return min(fee, sun_to_trx(self.fee_limit_sun(coin)) + BANDWIDTH_FEE_TRX)
        return min(fee, coin.fee_cap) if coin.fee_cap else fee

    @sensitive_variables()  # every local, and every frame it calls (the TRON codec)
    def build_and_sign(self, *, coin: CoinConfig, to_address: str, amount: Decimal, private_key: bytes,
                       nonce: int | None = None, fee_bump: int = 0) -> SignedTransaction:
        """TRON has no nonce and no fee market: ``nonce`` and ``fee_bump`` are ignored."""
        block = self.backend.post("/wallet/getnowblock", {})
        ref_block_id = block.get("blockID", "")
        if len(ref_block_id) != 64:
            raise TransientChainError("The node returned no latest block.")
        sender = address_from_private_key(private_key)
        fee_limit = self.fee_limit_sun(coin) if coin.is_token else 0
        raw_data = transfer_raw_data(
            coin=coin, sender=sender, to_address=normalize_address(to_address),
            units=to_base_units(amount, coin.decimals), ref_block_id=ref_block_id,
            now_ms=int(self._clock() * 1000), expiration_ms=self.expiration_ms, fee_limit_sun=fee_limit)
        signed = sign_raw_data(raw_data, private_key)
        return SignedTransaction(tx_hash=signed["txID"], raw=json.dumps(signed, sort_keys=True), sender=sender,
                                 max_fee=sun_to_trx(fee_limit) + BANDWIDTH_FEE_TRX,
                                 meta={"expiration": raw_data["expiration"], "ref_block_id": ref_block_id})

    def broadcast(self, signed: SignedTransaction) -> str:
        answer = self.backend.post("/wallet/broadcasttransaction", json.loads(signed.raw))
        if answer.get("result") is True:
            return signed.tx_hash
        code = str(answer.get("code", ""))
        message = _decode_message(answer.get("message", "")) or str(answer.get("Error", "")) or "no detail"
        if code == "DUP_TRANSACTION_ERROR":
            return signed.tx_hash
        if code == "TRANSACTION_EXPIRATION_ERROR":
            raise TransactionExpired(f"{code}: {message}")
        if code in TRANSIENT_BROADCAST_CODES:
            raise TransientChainError(f"{code}: {message}")
        raise PermanentChainError(f"{code or 'ERROR'}: {message}")

    def tx_statuses(self, tx_hashes: list[str]) -> dict[str, TxStatus]:
        """Confirmations count against the solidified head (solidified = final on TRON)."""
        head = self.backend.post("/walletsolidity/getnowblock", {})
        try:
            solid = int(head["block_header"]["raw_data"]["number"])
        except (KeyError, TypeError, ValueError):
            raise TransientChainError("The node returned no solidified block.") from None
        return {tx_hash: self._status(tx_hash, solid) for tx_hash in tx_hashes}

    def _status(self, tx_hash: str, solid: int) -> TxStatus:
        info = self.backend.post("/wallet/gettransactioninfobyid", {"value": tx_hash})
        if "blockNumber" not in info:
            known = self.backend.post("/wallet/gettransactionbyid", {"value": tx_hash})
            return TxStatus(tx_hash, TxStatus.PENDING if known.get("txID") else TxStatus.NOT_FOUND)
        block = int(info["blockNumber"])
        receipt_result = info.get("receipt", {}).get("result")
        failed = info.get("result") == "FAILED" or receipt_result not in (None, *SUCCESS_RESULTS)
        return TxStatus(tx_hash, TxStatus.REVERTED if failed else TxStatus.INCLUDED,
                        confirmations=max(0, solid - block + 1), block_number=block,
                        fee_paid=sun_to_trx(int(info.get("fee", 0))))

    def balance(self, coin: CoinConfig, address: str) -> Decimal:
        """TRX: ``/wallet/getaccount`` (an account the chain never saw has no ``balance``: 0).
        TRC-20: ``balanceOf(address)`` through ``/wallet/triggerconstantcontract``."""
        address = normalize_address(address)
        if not coin.is_token:
            answer = self.backend.post("/wallet/getaccount", {"address": address, "visible": True})
            if "Error" in answer:
                raise TransientChainError(f"getaccount failed: {answer['Error']}")
            return sun_to_trx(int(answer.get("balance", 0)))
        answer = self.backend.post("/wallet/triggerconstantcontract", {
            "owner_address": address, "contract_address": normalize_address(coin.contract_address),
            "function_selector": "balanceOf(address)", "parameter": balance_of_parameter(address),
            "visible": True})
        results = answer.get("constant_result") or []
        if not results or not (answer.get("result") or {}).get("result", True):
            raise TransientChainError(f"balanceOf failed: {answer.get('Error') or answer.get('result')}")
        return Decimal(int(results[0] or "0", 16)).scaleb(-coin.decimals)

    def verify_message(self, *, address: str, message: str, signature: str) -> bool:
        return verify_message(address=address, message=message, signature=signature)

    @staticmethod
    def sign_message(private_key: bytes, message: str) -> str:
        return sign_message(private_key, message)


def _decode_message(message: str) -> str:
    """Nodes hex-encode broadcast error messages; pass plain text through."""
    try:
        return bytes.fromhex(message).decode()
    except (ValueError, UnicodeDecodeError):
        return message
