"""The one interface every network kind implements (SPEC.md, "Chains").

Adapters take plain configuration objects, not Django models, so they can be tested without
a database; ``chains.adapters.adapter_for(network)`` builds one from a Network row. Keys are
passed in at signing time by the caller (from the hot-key file) and never stored or logged.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal


class ChainError(Exception):
    """Base of the errors an adapter raises."""


class TransientChainError(ChainError):
    """The node could not be reached or answered oddly: try again later, state unchanged."""


class PermanentChainError(ChainError):
    """The node refused the transaction for good (e.g. invalid, underpriced beyond repair)."""


class AddressError(ChainError):
    """An address is not valid for the network. ``code`` is invalid_address or network_mismatch."""

    def __init__(self, code: str, detail: str):
        self.code = code
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class NetworkConfig:
    code: str  # ETH, BTC, TRON
    kind: str  # evm, utxo, tron
    rpc_url: str = ""
    chain_id: int | None = None
    address_network: str = ""  # bitcoin / testnet / regtest / bitcoinlib_test; mainnet / nile
    confirmations: int = 1


@dataclass(frozen=True)
class CoinConfig:
    currency: str  # ETH, USDT, BTC
    decimals: int  # on-chain decimals of the asset
    contract_address: str = ""  # token contract; empty for the native coin
    fee_cap: Decimal | None = None  # highest network fee this coin may pay, in the fee currency

    @property
    def is_token(self) -> bool:
        return bool(self.contract_address)


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction ready to send. Stored on the order *before* it is broadcast."""

    tx_hash: str
    raw: str  # hex (EVM, BTC) or JSON (TRON) of the signed transaction
    sender: str
    nonce: int | None = None  # EVM nonce; None where the chain has none
    max_fee: Decimal = Decimal("0")  # the most this transaction can spend on fees
    meta: dict = field(default_factory=dict)  # e.g. {"expiration": ...} on TRON, inputs on BTC


@dataclass(frozen=True)
class TxStatus:
    """What the chain says of one transaction hash."""

    NOT_FOUND = "not_found"  # unknown to the node (never arrived, dropped, or re-orged out)
    PENDING = "pending"  # in the mempool
    INCLUDED = "included"  # in a block, succeeded
    REVERTED = "reverted"  # in a block, failed (fee spent, value not moved)

    tx_hash: str
    state: str
    confirmations: int = 0
    block_number: int | None = None
    block_hash: str | None = None
    fee_paid: Decimal | None = None  # in the network's native currency, once included
    # Token transfers the included transaction's receipt logged, as (token, from, to, units) with
    # addresses lower-case; None when the adapter cannot tell (no logs on this chain or backend).
    token_transfers: tuple[tuple[str, str, str, int], ...] | None = None

    def moved(self, *, token: str, sender: str, to: str, units: int) -> bool | None:
        """Whether the receipt shows exactly ``units`` of ``token`` going ``sender`` → ``to``
        (None: unknown)."""
        if self.token_transfers is None:
            return None
        return (token.lower(), sender.lower(), to.lower(), units) in self.token_transfers


class ChainAdapter(abc.ABC):
    """Validate, estimate, build and sign, broadcast, follow. One per network kind."""

    kind: str
    native_decimals: int  # decimals of the network's own coin (ETH 18, BTC 8, TRX 6)

    def __init__(self, network: NetworkConfig):
        self.network = network

    def token_decimals(self, contract_address: str) -> int | None:
        """What the token contract says its decimals are; None where this adapter cannot ask."""
        return None

    def node_chain_id(self) -> int | None:
        """The chain id the node reports now (EVM ``eth_chainId``); None where chains have none."""
        return None

    @classmethod
    @abc.abstractmethod
    def normalize_address(cls, address: str, *, address_network: str = "") -> str:
        """Return the canonical form of ``address`` or raise AddressError("invalid_address").

        Pure: no node is asked. ``address_network`` selects BTC mainnet/testnet/regtest etc.
        """

    @abc.abstractmethod
    def estimate_fee(self, coin: CoinConfig) -> Decimal:
        """The network fee one withdrawal of ``coin`` is expected to cost, in native currency."""

    @abc.abstractmethod
    def build_and_sign(self, *, coin: CoinConfig, to_address: str, amount: Decimal, private_key: bytes,
                       nonce: int | None = None, fee_bump: int = 0) -> SignedTransaction:
        """Sign a transfer of ``amount`` (in whole units) to ``to_address``. Sends nothing."""

    @abc.abstractmethod
    def broadcast(self, signed: SignedTransaction) -> str:
        """Send a stored signed transaction; return its hash.

        Idempotent: "already known" (the same transaction is in the mempool or mined) is success.
        Raises TransientChainError (retry) or PermanentChainError (the order fails).
        """

    @abc.abstractmethod
    def tx_statuses(self, tx_hashes: list[str]) -> dict[str, TxStatus]:
        """Status of many transactions with one chain-height read."""

    @abc.abstractmethod
    def balance(self, coin: CoinConfig, address: str) -> Decimal:
        """What ``address`` holds of ``coin`` (the native coin or the token), in whole units, as the
        node sees it now (reconciliation: withdrawals.services.reconciliation). Raises
        TransientChainError when the node cannot say."""

    def verify_message(self, *, address: str, message: str, signature: str) -> bool:
        """Whether ``signature`` over ``message`` was made by the key of ``address``."""
        raise NotImplementedError

    def find_transfer(self, *, from_address: str, to_address: str, amount: Decimal, blocks: int) -> str | None:
        """The hash of a successful native transfer of exactly ``amount`` from ``from_address`` to
        ``to_address`` within the newest ``blocks`` blocks, or None. NotImplementedError: this
        adapter cannot read it (the caller falls back to two people)."""
        raise NotImplementedError
