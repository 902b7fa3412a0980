"""Network-aware address validation: the one door an external address goes through.

``address_normalize(network=, address=)`` answers the canonical form of ``address`` on
``network`` (EIP-55 on EVM, as the adapter writes it elsewhere), or raises DomainError:

- ``network_mismatch`` when the address is valid, but on another network: a TRON address
  for ETH, an ETH address for BTC, a testnet BTC address on a mainnet BTC network;
- ``invalid_address`` for anything else: empty, overlong, with whitespace, bad checksum,
  garbage.

Pure: no node is asked. The adapters own the format rules; this module only decides which
adapter to ask and how to name the refusal.
"""

from __future__ import annotations

import logging

from chains.adapters import AddressError, adapter_class
from chains.models import Network
from core.errors import DomainError

logger = logging.getLogger(__name__)

# Longest address accepted (CustomerAddress.address is varchar(128); real ones are < 100).
MAX_ADDRESS_LENGTH = 128

# The address networks each kind knows, tried when an address is not valid on its network,
# to tell "valid elsewhere" (network_mismatch) from garbage (invalid_address).
KNOWN_ADDRESS_NETWORKS: dict[str, tuple[str, ...]] = {
    Network.Kind.EVM: ("",),
    Network.Kind.UTXO: ("bitcoin", "testnet", "regtest", "bitcoinlib_test"),
    Network.Kind.TRON: ("mainnet", "nile"),
}


def _invalid(detail: str) -> DomainError:
    return DomainError("invalid_address", detail, field="address")


def _precheck(address) -> None:
    """Refuse what no network accepts, before any adapter is asked (so nothing is stripped)."""
    if not isinstance(address, str) or not address:
        raise _invalid("The address is empty.")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise _invalid(f"The address is longer than {MAX_ADDRESS_LENGTH} characters.")
    if any(ch.isspace() for ch in address):
        raise _invalid("The address contains whitespace.")
    if not address.isascii() or not address.isprintable():
        raise _invalid("The address contains characters no address has.")


def _valid_on(kind: str, address_network: str, address: str) -> bool:
    try:
        adapter_class(kind).normalize_address(address, address_network=address_network)
    except AddressError:
        return False
    return True


def address_valid_elsewhere(*, network: Network, address: str) -> str | None:
    """Where else ``address`` is valid, as "<kind>:<address_network>", or None."""
    for kind, address_networks in KNOWN_ADDRESS_NETWORKS.items():
        for address_network in address_networks:
            if kind == network.kind and address_network == network.address_network:
                continue
            if _valid_on(kind, address_network, address):
                return f"{kind}:{address_network}" if address_network else kind
    return None


def address_normalize(*, network: Network, address: str) -> str:
    """The canonical form of ``address`` on ``network``; DomainError invalid_address / network_mismatch."""
    _precheck(address)
    try:
        return adapter_class(network.kind).normalize_address(address, address_network=network.address_network)
    except AddressError as exc:
        if exc.code == "network_mismatch":
            raise DomainError("network_mismatch", exc.detail, field="address")
        elsewhere = address_valid_elsewhere(network=network, address=address)
        if elsewhere:
            raise DomainError(
                "network_mismatch",
                f"This is not a {network.code} address (it is valid on {elsewhere}).",
                field="address",
            )
        raise _invalid(exc.detail or f"Not a valid {network.code} address.")
