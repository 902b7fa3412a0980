"""The ``evm`` adapter: ETH and ERC-20 tokens through web3.py (SPEC.md, "Chains").

Transactions are EIP-1559 (type 2). The caller allocates nonces and stores the signed
transaction before broadcasting it; this module never signs twice on its own and never keeps
or logs a private key. Node failures are sorted into TransientChainError (try again later,
nothing changed) and PermanentChainError (this raw transaction will never be accepted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, localcontext
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from chains.adapters.base import (
    AddressError,
    ChainAdapter,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
)
from chains.erc20 import token_contract

ETH_DECIMALS = 18
REQUEST_TIMEOUT = 10  # seconds per JSON-RPC call: a worker must not hang on a dead node
ETH_TRANSFER_GAS = 21_000
TOKEN_TRANSFER_GAS = 65_000  # estimate_fee has no sender to simulate; covers USDT to a new holder
BATCH_SIZE = 100  # public endpoints cap JSON-RPC batches; 100 is accepted everywhere we know

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE_RE = re.compile(r"(?:0x)?[0-9a-fA-F]{130}")  # r, s, v: 65 bytes

# The node says it already holds this very transaction: the broadcast has happened.
_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
# Refusals that can clear without changing the signed transaction: a nonce gap closes once the
# earlier transactions are in, the base fee falls, a full or rate-limited node frees up.
_TRANSIENT_REJECTIONS = (
    "nonce too high", "nonce gap", "less than block base fee", "txpool is full", "pool is full",
    "too many requests", "rate limit", "timeout", "timed out", "try again", "header not found",
    "temporarily", "busy", "internal error",
)


class AmountError(PermanentChainError, ValueError):
    """An amount the chain cannot carry exactly (too many decimals, not positive)."""


def web3_for(rpc_url: str, *, timeout: float = REQUEST_TIMEOUT) -> Web3:
    """A Web3 on ``rpc_url`` that fails fast: a short timeout and one quick retry of reads."""
    retry = ExceptionRetryConfiguration(
        errors=(ConnectionError, requests.ConnectionError, requests.HTTPError, requests.Timeout),
        retries=2, backoff_factor=0.1)
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout},
                             exception_retry_configuration=retry))


@sensitive_variables()
def address_from_private_key(private_key: bytes | str) -> str:
    """The checksummed address of a key. The key never appears in an error message."""
    try:
        return Account.from_key(private_key).address
    except Exception:  # eth-keys errors may echo the input: replace them wholesale
        raise ValueError("not a valid secp256k1 private key") from None


def to_units(amount: Decimal, decimals: int) -> int:
    """Whole units -> smallest units, exactly. More decimals than the asset has is an error."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise AmountError(f"amount must be a finite Decimal, got {amount!r}")
    with localcontext() as ctx:
        ctx.prec = 100  # scaleb rounds to the context precision; 28 digits is not enough for wei
        scaled = amount.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise AmountError(f"{amount} has more than {decimals} decimals")
    units = int(scaled)
    if units <= 0:
        raise AmountError(f"amount must be positive, got {amount}")
    return units


def from_units(units: int, decimals: int) -> Decimal:
    """Smallest units -> whole units, exactly."""
    with localcontext() as ctx:
        ctx.prec = 100
        return Decimal(units).scaleb(-decimals)


def from_wei(wei: int) -> Decimal:
    return from_units(wei, ETH_DECIMALS)


def to_wei(amount: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 100
        return int(amount.scaleb(ETH_DECIMALS))


def _bump(wei: int) -> int:
    """12.5% up, rounded up, and at least 1 wei: enough for any node's replacement rule."""
    return max(wei + 1, -(-wei * 9 // 8))


def _rpc_message(exc: Web3RPCError) -> str:
    response = getattr(exc, "rpc_response", None) or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc)


@contextmanager
def _node_errors(what: str) -> Iterator[None]:
    """Unreachable, slow or odd nodes become TransientChainError (the state is unchanged).

    Only the exception's type goes into the message: the RPC URL may carry an API key.
    """
    try:
        yield
    except (requests.RequestException, ConnectionError, TimeoutError, ProviderConnectionError,
            TimeExhausted) as exc:
        raise TransientChainError(f"{what}: node unreachable ({type(exc).__name__})") from exc
    except Web3RPCError as exc:
        raise TransientChainError(f"{what}: node error: {_rpc_message(exc)}") from exc


# keccak("Transfer(address,address,uint256)"): the ERC-20 event a token transfer must log.
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def _transfers(logs: list[dict]) -> tuple[tuple[str, str, str, int], ...]:
    """The ERC-20 Transfer events of a receipt: (token, from, to, units), addresses lower-case."""
    found = []
    for log in logs:
        topics = [t if isinstance(t, str) else t.to_0x_hex() for t in log.get("topics") or []]
        if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
            continue
        data = log.get("data") or "0x"
        data = data if isinstance(data, str) else data.to_0x_hex()
        try:
            units = int(data, 16)
        except ValueError:
            continue
        found.append((str(log["address"]).lower(), "0x" + topics[1][-40:].lower(), "0x" + topics[2][-40:].lower(),
                      units))
    return tuple(found)


class EvmAdapter(ChainAdapter):
    """ETH and ERC-20 on one EVM network. ``w3`` may be injected (tests, shared connections)."""

    kind = "evm"
    native_decimals = ETH_DECIMALS

    def __init__(self, network: NetworkConfig, *, w3: Web3 | None = None):
        super().__init__(network)
        self._w3 = w3
        self._chain_id = network.chain_id

    # --- connection ----------------------------------------------------------------------

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            if not self.network.rpc_url:
                raise TransientChainError(f"no RPC URL configured for network {self.network.code}")
            self._w3 = web3_for(self.network.rpc_url)
        return self._w3

    @property
    def chain_id(self) -> int:
        """From the network configuration, else asked once of the node."""
        if self._chain_id is None:
            with _node_errors("read chain id"):
                self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def node_chain_id(self) -> int:
        """``eth_chainId`` asked of the node now (not the configured one)."""
        with _node_errors("read chain id"):
            return int(self.w3.eth.chain_id)

    def token_decimals(self, contract_address: str) -> int:
        """The ERC-20 ``decimals()`` of the contract. A contract that does not answer it (no code
        there, not an ERC-20) is PermanentChainError: it is not the token the coin says."""
        token = token_contract(self.w3, self.normalize_address(contract_address))
        try:
            with _node_errors("read token decimals"):
                return int(token.functions.decimals().call())
        except (ContractLogicError, BadFunctionCallOutput, ValueError, ArithmeticError) as exc:
            raise PermanentChainError(f"{contract_address} does not answer decimals(): {exc}") from exc

    def block_number(self) -> int:
        with _node_errors("read block number"):
            return self.w3.eth.block_number

    def native_balance(self, address: str) -> Decimal:
        """ETH balance of ``address`` at the latest block."""
        with _node_errors("read balance"):
            return from_wei(self.w3.eth.get_balance(self.normalize_address(address)))

    def balance(self, coin: CoinConfig, address: str) -> Decimal:
        """Balance of ``coin`` (ETH or the token) held by ``address``, in whole units."""
        if not coin.is_token:
            return self.native_balance(address)
        token = token_contract(self.w3, self.normalize_address(coin.contract_address))
        with _node_errors("read token balance"):
            units = token.functions.balanceOf(self.normalize_address(address)).call()
        return from_units(units, coin.decimals)

    # --- addresses -------------------------------------------------------------------------

    @classmethod
    def normalize_address(cls, address: str, *, address_network: str = "") -> str:
        if not isinstance(address, str) or not _ADDRESS_RE.fullmatch(address):
            raise AddressError("invalid_address", "An Ethereum address is 0x followed by 40 hexadecimal digits.")
        digits = address[2:]
        checksummed = to_checksum_address(address)
        # One case throughout carries no checksum; mixed case is EIP-55 and must match, which
        # catches most typos in a copied address.
        if digits not in (digits.lower(), digits.upper()) and address != checksummed:
            raise AddressError("invalid_address", "The address fails its EIP-55 checksum; check for a typo.")
        if int(digits, 16) == 0:
            raise AddressError("invalid_address", "The zero address cannot receive funds.")
        return checksummed

    # --- fees ------------------------------------------------------------------------------

    def _fee_market(self) -> tuple[int, int]:
        """(base fee of the latest block, suggested priority fee), in wei."""
        with _node_errors("read fees"):
            base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
            priority = self.w3.eth.max_priority_fee
        if base_fee is None:
            raise PermanentChainError(f"network {self.network.code} has no EIP-1559 base fee")
        return base_fee, priority

    def estimate_fee(self, coin: CoinConfig) -> Decimal:
        """gas x (2 x base fee + tip): the max fee a transaction signed now would allow."""
        gas = TOKEN_TRANSFER_GAS if coin.is_token else ETH_TRANSFER_GAS
        base_fee, priority = self._fee_market()
        fee = from_wei(gas * (2 * base_fee + priority))
        return min(fee, coin.fee_cap) if coin.fee_cap is not None else fee

    def _fees_per_gas(self, *, gas: int, fee_bump: int, fee_cap: Decimal | None,
                      replaces: SignedTransaction | None) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a transaction signed now."""
        base_fee, priority = self._fee_market()
        max_fee = 2 * base_fee + priority  # stays includable through ~6 full blocks of base-fee rises
        for _ in range(fee_bump):
            max_fee, priority = _bump(max_fee), _bump(priority)
        if replaces is not None and "max_fee_per_gas" in replaces.meta:
            # The fee market may have eased since the first signing: outbid the old tx, not the market.
            max_fee = max(max_fee, _bump(replaces.meta["max_fee_per_gas"]))
            priority = max(priority, _bump(replaces.meta["max_priority_fee_per_gas"]))
        if fee_cap is not None and gas * max_fee > to_wei(fee_cap):
            max_fee = to_wei(fee_cap) // gas
            if max_fee < base_fee + priority:
                # Signing anyway would store a transaction that cannot be mined at today's fees.
                raise TransientChainError("the network fee is above this coin's fee cap at the moment")
        return max_fee, priority

    # --- signing ---------------------------------------------------------------------------

    def _gas_limit(self, *, coin: CoinConfig, sender: str, call: dict[str, Any]) -> int:
        if not coin.is_token:
            with _node_errors("read code"):
                is_contract = bool(self.w3.eth.get_code(call["to"]))
            if not is_contract:
                return ETH_TRANSFER_GAS  # exact for a plain account
        try:
            with _node_errors("estimate gas"):
                estimate = self.w3.eth.estimate_gas({"from": sender, **call})
        except ContractLogicError as exc:  # it would revert: better not to sign it at all
            raise PermanentChainError(f"the transfer would revert: {exc}") from exc
        return estimate * 5 // 4  # headroom: state may change between estimate and inclusion

    @sensitive_variables()  # every local, and every frame it calls (eth-account)
    def build_and_sign(self, *, coin: CoinConfig, to_address: str, amount: Decimal, private_key: bytes,
                       nonce: int | None = None, fee_bump: int = 0, gas_limit: int | None = None,
                       replaces: SignedTransaction | None = None) -> SignedTransaction:
        """Sign a transfer; sends nothing.

        ``fee_bump`` N raises both fees by 12.5% N times (same-nonce replacement of a stuck
        transaction); ``replaces`` (the stuck one) also guarantees 12.5% over its own fees.
        ``gas_limit`` skips estimation (a transfer that must be sent even if it would revert).
        """
        to = self.normalize_address(to_address)
        units = to_units(amount, coin.decimals)
        sender = address_from_private_key(private_key)
        if coin.is_token:
            token = token_contract(self.w3, self.normalize_address(coin.contract_address))
            call = {"to": token.address, "value": 0, "data": token.encode_abi("transfer", args=[to, units])}
        else:
            call = {"to": to, "value": units, "data": "0x"}
        gas = gas_limit or self._gas_limit(coin=coin, sender=sender, call=call)
        max_fee, priority = self._fees_per_gas(gas=gas, fee_bump=fee_bump, fee_cap=coin.fee_cap,
                                               replaces=replaces)
        if nonce is None:
            nonce = replaces.nonce if replaces is not None else self.pending_nonce(sender)
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "gas": gas,
              "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority, **call}
        signed = Account.sign_transaction(tx, private_key)
        return SignedTransaction(
            tx_hash=signed.hash.to_0x_hex(), raw=signed.raw_transaction.to_0x_hex(), sender=sender,
            nonce=nonce, max_fee=from_wei(gas * max_fee),
            meta={"chain_id": self.chain_id, "gas": gas, "max_fee_per_gas": max_fee,
                  "max_priority_fee_per_gas": priority},
        )

    def pending_nonce(self, address: str) -> int:
        with _node_errors("read nonce"):
            return self.w3.eth.get_transaction_count(address, "pending")

    def confirmed_nonce(self, address: str, *, block: int | str = "latest") -> int:
        """How many transactions of ``address`` are in blocks up to ``block`` (the next nonce
        there): a nonce below it is consumed, by whichever transaction was mined with it."""
        with _node_errors("read nonce"):
            return self.w3.eth.get_transaction_count(self.normalize_address(address), block)

    # --- broadcasting ----------------------------------------------------------------------

    def broadcast(self, signed: SignedTransaction) -> str:
        """Send the stored raw transaction; success if the node has it, now or already.

        "nonce too low" or an underpriced replacement is success only when the node knows this
        very hash (we sent it before); otherwise another transaction took the nonce and this one
        can never be mined: PermanentChainError.
        """
        with _node_errors("broadcast"):
            try:
                return self.w3.eth.send_raw_transaction(signed.raw).to_0x_hex()
            except Web3RPCError as exc:  # a refusal, not a transport failure: sorted below
                rejection = exc
        message = _rpc_message(rejection)
        lowered = message.lower()
        if any(marker in lowered for marker in _ALREADY_KNOWN) or self._is_known(signed.tx_hash):
            return signed.tx_hash
        if any(marker in lowered for marker in _TRANSIENT_REJECTIONS):
            raise TransientChainError(f"node refused {signed.tx_hash} for now: {message}")
        raise PermanentChainError(f"node refused {signed.tx_hash}: {message}")

    def _is_known(self, tx_hash: str) -> bool:
        """Whether the node holds ``tx_hash``, pending or mined."""
        with _node_errors("look up transaction"):
            try:
                self.w3.eth.get_transaction(tx_hash)
            except TransactionNotFound:
                return False
        return True

    # --- following -------------------------------------------------------------------------

    def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results of JSON-RPC ``calls`` in as few round trips as the batch limit allows.

        Raw provider batches, not ``w3.batch_requests()``: web3 raises TransactionNotFound for
        the whole batch when one receipt is null, and a null receipt is an answer we need.
        """
        results: list[Any] = []
        for start in range(0, len(calls), BATCH_SIZE):
            chunk = calls[start:start + BATCH_SIZE]
            with _node_errors("batch read"):
                responses = self.w3.provider.make_batch_request(chunk)
            if not isinstance(responses, list) or len(responses) != len(chunk):
                raise TransientChainError(f"batch read: unexpected answer from the node: {str(responses)[:200]}")
            for response in responses:
                if "error" in response:
                    raise TransientChainError(f"batch read: node error: {response['error']}")
                results.append(response.get("result"))
        return results

    def tx_statuses(self, tx_hashes: list[str]) -> dict[str, TxStatus]:
        """One chain-height read and the receipts in one batch; the missing ones looked up as
        pending transactions in a second batch."""
        if not tx_hashes:
            return {}
        for tx_hash in tx_hashes:
            if not isinstance(tx_hash, str) or not _HASH_RE.fullmatch(tx_hash):
                raise ValueError(f"not a transaction hash: {tx_hash!r}")
        hashes = list(dict.fromkeys(tx_hashes))
        answers = self._batch([("eth_blockNumber", [])]
                              + [("eth_getTransactionReceipt", [h.lower()]) for h in hashes])
        head, receipts = int(answers[0], 16), dict(zip(hashes, answers[1:], strict=True))
        missing = [h for h in hashes if receipts[h] is None]
        in_mempool: set[str] = set()
        if missing:
            found = self._batch([("eth_getTransactionByHash", [h.lower()]) for h in missing])
            in_mempool = {h for h, tx in zip(missing, found, strict=True) if tx is not None}
        return {h: self._status(h, receipts[h], head=head, pending=h in in_mempool) for h in hashes}

    @staticmethod
    def _status(tx_hash: str, receipt: dict | None, *, head: int, pending: bool) -> TxStatus:
        if receipt is None:
            return TxStatus(tx_hash=tx_hash, state=TxStatus.PENDING if pending else TxStatus.NOT_FOUND)
        block = int(receipt["blockNumber"], 16)
        fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
        return TxStatus(
            tx_hash=tx_hash,
            state=TxStatus.INCLUDED if int(receipt["status"], 16) == 1 else TxStatus.REVERTED,
            # A block mined between the height read and the receipt still counts as one.
            confirmations=max(1, head - block + 1),
            block_number=block,
            block_hash=receipt["blockHash"],
            fee_paid=from_wei(fee),
            token_transfers=_transfers(receipt.get("logs") or []),
        )

    # --- incoming transfers (micropayment proof) ---------------------------------------------

    def find_transfer(self, *, from_address: str, to_address: str, amount: Decimal, blocks: int) -> str | None:
        """Scan the newest ``blocks`` blocks (bounded, newest first) for a plain ETH transfer of
        exactly ``amount`` from → to that succeeded."""
        sender, receiver = self.normalize_address(from_address), self.normalize_address(to_address)
        value = to_wei(Decimal(amount))
        with _node_errors("find transfer"):
            head = self.w3.eth.block_number
            for number in range(head, max(head - max(int(blocks), 1), -1), -1):
                block = self.w3.eth.get_block(number, full_transactions=True)
                for tx in block["transactions"]:
                    if tx.get("to") == receiver and tx.get("from") == sender and tx.get("value") == value \
                            and self.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                        return tx["hash"].to_0x_hex()
        return None

    # --- messages --------------------------------------------------------------------------

    def verify_message(self, *, address: str, message: str, signature: str) -> bool:
        """EIP-191 ``personal_sign`` check. Malformed input of any kind is simply False."""
        # eth-account also takes EIP-155 style v values; personal_sign only makes 0/1 or 27/28.
        if not isinstance(signature, str) or not _SIGNATURE_RE.fullmatch(signature) \
                or int(signature[-2:], 16) not in (0, 1, 27, 28):
            return False
        try:
            expected = self.normalize_address(address)
            recovered = Account.recover_message(encode_defunct(text=message), signature=signature)
        except Exception:  # bad hex, wrong length, invalid curve point, bad address...
            return False
        return recovered == expected
