"""Chain adapters by network kind. ``adapter_for(network)`` is the one way in."""

from __future__ import annotations

from chains.adapters.base import (  # noqa: F401 - the package's public names
    AddressError,
    ChainAdapter,
    CoinConfig,
    NetworkConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
)

ADAPTER_CLASSES: dict[str, str] = {
    "evm": "chains.adapters.evm.adapter.EvmAdapter",
    "utxo": "chains.adapters.bitcoin.adapter.UtxoAdapter",
    "tron": "chains.adapters.tron.adapter.TronAdapter",
}


def adapter_class(kind: str) -> type[ChainAdapter]:
    from django.utils.module_loading import import_string

    return import_string(ADAPTER_CLASSES[kind])


def network_config(network) -> NetworkConfig:
    """A NetworkConfig from a chains.Network row; the RPC URL falls back to settings."""
    from django.conf import settings

    return NetworkConfig(
        code=network.code,
        kind=network.kind,
        rpc_url=network.rpc_url or settings.CHAIN_RPC_URLS.get(network.code, ""),
        chain_id=network.chain_id,
        address_network=network.address_network,
        confirmations=network.confirmations,
    )


def coin_config(coin) -> CoinConfig:
    """The adapter's view of a Coin row: amounts are scaled by the coin's chain decimals (the
    token's own, checked against the contract), never the currency's."""
    return CoinConfig(currency=coin.currency.code, decimals=coin.chain_decimals,
                      contract_address=coin.contract_address, fee_cap=coin.fee_cap)


def adapter_for(network) -> ChainAdapter:
    return adapter_class(network.kind)(network_config(network))
