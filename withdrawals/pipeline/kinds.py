"""What differs per network kind when a withdrawal is signed; the rest of the pipeline is the same.

Also the stored candidates' small helpers every pipeline module uses.
"""

from __future__ import annotations

from decimal import Decimal

from django.views.decorators.debug import sensitive_variables

from chains.adapters import ChainAdapter, CoinConfig, PermanentChainError, SignedTransaction
from chains.models import Network
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.nonces import nonce_allocate

TxState = WithdrawalTransaction.State
# Candidates that may still land: the ones the sweep asks the chain about and a retry re-sends.
LIVE_TX_STATES = (TxState.SIGNED, TxState.SENT)


class SigningRefused(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def signed_transaction(candidate: WithdrawalTransaction) -> SignedTransaction:
    return SignedTransaction(tx_hash=candidate.tx_hash, raw=candidate.raw, sender=candidate.sender,
                             nonce=candidate.nonce, max_fee=candidate.max_fee, meta=candidate.meta or {})


def live_candidate(order_id: int) -> WithdrawalTransaction | None:
    """The newest stored transaction of the order that may still land."""
    return (WithdrawalTransaction.objects.filter(order_id=order_id, state__in=LIVE_TX_STATES)
            .order_by("-id").first())


@sensitive_variables("key")
def sender_address(network: Network, key: bytes) -> str:
    if network.kind == Network.Kind.EVM:
        from chains.adapters.evm.adapter import address_from_private_key

        return address_from_private_key(key)
    from chains.hot_wallets import hot_address

    return hot_address(network)



# --- what differs per network kind ----------------------------------------------------------------

class KindSending:
    """How one network kind signs a withdrawal's transaction; the pipeline is otherwise the same.

    ``sign`` runs inside the transaction that stores the result, so whatever it allocates (an EVM
    nonce, BTC inputs) is taken under a lock and committed together with the candidate, or not at
    all. ``replaces`` (a stored candidate) asks for a fee-bumped replacement of it.
    """

    fee_bumps = False  # whether a stuck transaction can be replaced with a higher fee

    @sensitive_variables("key")
    def sign(self, *, order: WithdrawalOrder, adapter: ChainAdapter, coin: CoinConfig, key: bytes, sender: str,
             replaces: WithdrawalTransaction | None = None, fee_bump: int = 0) -> SignedTransaction:
        return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount, private_key=key)

    def stored(self, *, order: WithdrawalOrder, candidate: WithdrawalTransaction, signed: SignedTransaction) -> None:
        """Record what the stored candidate took (same transaction)."""

    def may_resign(self, error: PermanentChainError) -> bool:
        """Whether this refusal proves the stored transaction can never land, so that a new
        signature is safe (TRON: expired)."""
        return False


class EvmSending(KindSending):
    fee_bumps = True

    @sensitive_variables("key")
    def sign(self, *, order, adapter, coin, key, sender, replaces=None, fee_bump=0):
        if replaces is None:
            nonce = nonce_allocate(network=order.coin.network, address=sender,
                                   node_pending=adapter.pending_nonce(sender))
            return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                          private_key=key, nonce=nonce)
        # Same nonce, higher fees: whichever of the two is mined, the other never can be.
        signed = adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                        private_key=key, nonce=replaces.nonce, fee_bump=fee_bump,
                                        replaces=signed_transaction(replaces), gas_limit=replaces.meta.get("gas"))
        if signed.meta["max_fee_per_gas"] <= replaces.meta.get("max_fee_per_gas", 0):
            raise SigningRefused("The coin's fee cap leaves no room for a higher fee.")
        return signed


class UtxoSending(KindSending):
    fee_bumps = True

    @sensitive_variables("key")
    def sign(self, *, order, adapter, coin, key, sender, replaces=None, fee_bump=0):
        from chains.adapters.bitcoin.codec import Utxo
        from withdrawals.pipeline.utxos import utxo_spendable

        network = order.coin.network
        if replaces is None:
            utxos = utxo_spendable(network=network, address=sender, backend=adapter.backend)
            return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                          private_key=key, utxos=utxos)
        # RBF: exactly the same inputs (never others: a replacement spending other outputs would
        # not conflict with the first, and both could be mined), a higher rate.
        inputs = [Utxo.from_dict(i) for i in replaces.meta["inputs"]]
        base = max(Decimal(replaces.meta["base_fee_rate_sat_vb"]), adapter.backend.fee_rate_sat_vb())
        return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                      private_key=key, utxos=inputs, fee_rate_sat_vb=base, fee_bump=fee_bump)

    def stored(self, *, order, candidate, signed):
        from withdrawals.pipeline.utxos import utxo_reserve

        utxo_reserve(candidate=candidate, signed=signed, network=order.coin.network)


class TronSending(KindSending):
    def may_resign(self, error):
        from chains.adapters.tron.codec import TransactionExpired

        return isinstance(error, TransactionExpired)


KIND_SENDING: dict[str, KindSending] = {
    Network.Kind.EVM: EvmSending(), Network.Kind.UTXO: UtxoSending(), Network.Kind.TRON: TronSending()}


def kind_sending(network: Network) -> KindSending:
    return KIND_SENDING[network.kind]
