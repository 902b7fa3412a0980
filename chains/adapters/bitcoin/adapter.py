"""The ``utxo`` (BTC) adapter: the ChainAdapter interface over the codec and a node backend."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.views.decorators.debug import sensitive_variables

from chains.adapters.base import (
    ChainAdapter,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TxStatus,
)
from chains.adapters.bitcoin.codec import (
    DEFAULT_FEE_CAP_BTC,
    MIN_FEE_RATE_SAT_VB,
    Utxo,
    btc_network,
    btc_to_sat,
    build_signed_transaction,
    bumped_fee_rate,
    decode_address,
    estimate_vsize,
    fee_for,
    hot_wallet_address,
    sat_to_btc,
    sign_message,
    verify_message,
)


class UtxoAdapter(ChainAdapter):
    """BTC through bitcoinlib. The node is a ``chains.adapters.bitcoin.backends`` backend chosen by the config:
    an RPC URL means bitcoind, none means the local simulated ``bitcoinlib_test`` chain."""

    kind = "utxo"
    native_decimals = 8

    def __init__(self, network: NetworkConfig, *, backend=None):
        super().__init__(network)
        default_network = "bitcoin" if network.rpc_url else "bitcoinlib_test"
        self.address_network = network.address_network or default_network
        btc_network(self.address_network)  # fail early on a misconfigured network
        self._backend = backend

    @property
    def backend(self):
        if self._backend is None:
            from chains.adapters.bitcoin.backends import backend_for

            self._backend = backend_for(self.network, address_network=self.address_network)
        return self._backend

    @classmethod
    def normalize_address(cls, address: str, *, address_network: str = "") -> str:
        return decode_address(address, address_network=address_network).address

    def fee_cap_sat(self, coin: CoinConfig) -> int:
        return btc_to_sat(coin.fee_cap if coin.fee_cap is not None else DEFAULT_FEE_CAP_BTC)

    def estimate_fee(self, coin: CoinConfig) -> Decimal:
        """Fee of a typical withdrawal, 2 P2WPKH inputs → recipient + change, at the node's rate."""
        vsize = estimate_vsize(2, [22, 22])
        return sat_to_btc(fee_for(vsize, max(self.backend.fee_rate_sat_vb(), MIN_FEE_RATE_SAT_VB)))

    @sensitive_variables()  # every local, and every frame it calls (bitcoinlib)
    def build_and_sign(self, *, coin: CoinConfig, to_address: str, amount: Decimal, private_key: bytes,
                       nonce: int | None = None, fee_bump: int = 0, utxos: Iterable[Utxo] | None = None,
                       change_address: str = "", fee_rate_sat_vb: Decimal | None = None) -> SignedTransaction:
        """Sign a transfer; ``nonce`` is unused (BTC has none).

        ``utxos`` defaults to the node's view of the hot wallet and ``fee_rate_sat_vb`` to the
        node's estimate. For a fee bump pass the same ``utxos`` and the original base rate
        (``meta["base_fee_rate_sat_vb"]``): largest-first then re-spends the same inputs.
        """
        sender = hot_wallet_address(private_key, address_network=self.address_network)
        if utxos is None:
            utxos = self.backend.utxos(sender)
        base_rate = Decimal(fee_rate_sat_vb) if fee_rate_sat_vb is not None else self.backend.fee_rate_sat_vb()
        rate = bumped_fee_rate(base_rate, fee_bump)
        tx, selection, change = build_signed_transaction(
            private_key=private_key, to_address=to_address, amount_sat=btc_to_sat(amount), utxos=utxos,
            fee_rate=rate, fee_cap_sat=self.fee_cap_sat(coin), address_network=self.address_network,
            change_address=change_address)
        change_meta = None
        if selection.change_sat:
            change_meta = {"address": change.address if change else sender, "vout": 1,
                           "value_sat": selection.change_sat}
        return SignedTransaction(
            tx_hash=tx.txid, raw=tx.raw_hex(), sender=sender, nonce=None, max_fee=sat_to_btc(selection.fee_sat),
            meta={"inputs": [u.as_dict() for u in selection.inputs], "change": change_meta, "vsize": tx.vsize,
                  "fee_sat": selection.fee_sat, "fee_rate_sat_vb": str(rate),
                  "base_fee_rate_sat_vb": str(base_rate), "fee_bump": fee_bump})

    def broadcast(self, signed: SignedTransaction) -> str:
        txid = self.backend.broadcast(signed.raw)
        if txid != signed.tx_hash:
            raise PermanentChainError(f"The node reports txid {txid}, expected {signed.tx_hash}.")
        return txid

    def tx_statuses(self, tx_hashes: list[str]) -> dict[str, TxStatus]:
        height = self.backend.block_height()
        statuses = {}
        for tx_hash in tx_hashes:
            found = self.backend.lookup(tx_hash)
            if found is None:
                statuses[tx_hash] = TxStatus(tx_hash, TxStatus.NOT_FOUND)
            elif found.block_height is None:
                statuses[tx_hash] = TxStatus(tx_hash, TxStatus.PENDING)
            else:
                fee = sat_to_btc(found.fee_sat) if found.fee_sat is not None else None
                statuses[tx_hash] = TxStatus(tx_hash, TxStatus.INCLUDED,
                                             confirmations=max(0, height - found.block_height + 1),
                                             block_number=found.block_height, block_hash=found.block_hash,
                                             fee_paid=fee)
        return statuses

    def balance(self, coin: CoinConfig, address: str) -> Decimal:
        """The sum of the node's unspent outputs paying ``address`` (listunspent 0: outputs in the
        mempool count, outputs spent by a mempool transaction do not). BTC has no tokens."""
        if coin.is_token:
            raise PermanentChainError("Bitcoin has no token contracts.")
        return sat_to_btc(sum(utxo.value_sat for utxo in self.backend.utxos(self.normalize_address(
            address, address_network=self.address_network))))

    def input_spender(self, txid: str, vout: int) -> TxStatus | None:
        """What the chain says of the transaction spending ``txid:vout`` (None: unspent, or the
        node cannot tell)."""
        spender = self.backend.spender(txid, vout)
        return self.tx_statuses([spender])[spender] if spender else None

    def verify_message(self, *, address: str, message: str, signature: str) -> bool:
        return verify_message(address=address, message=message, signature=signature,
                              address_network=self.address_network)

    @staticmethod
    def sign_message(private_key: bytes, message: str, address_type: str = "p2wpkh") -> str:
        return sign_message(private_key, message, address_type)
