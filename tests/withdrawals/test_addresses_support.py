"""Support for the address tests (no tests here): real keys per network kind, a movable clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import coincurve
import pytest
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.adapters.bitcoin.adapter import UtxoAdapter
from chains.adapters.bitcoin.codec import hot_wallet_address
from chains.adapters.tron.adapter import TronAdapter
from chains.adapters.tron.codec import address_from_private_key
from tests.fixtures.factories import btc_network, eth_network, tron_network


@dataclass
class Signer:
    """A key of one network kind: its address and how it signs a message."""

    kind: str
    private_key: bytes
    address: str

    def sign(self, message: str) -> str:
        if self.kind == "evm":  # EIP-191 personal_sign, as a wallet does it
            return "0x" + bytes(Account.sign_message(encode_defunct(text=message), self.private_key).signature).hex()
        if self.kind == "utxo":  # BIP-137 Bitcoin signed message
            return UtxoAdapter.sign_message(self.private_key, message, "p2wpkh")
        return TronAdapter.sign_message(self.private_key, message)  # TronWeb signMessageV2


def new_signer(network) -> Signer:
    private_key = coincurve.PrivateKey().secret
    if network.kind == "evm":
        address = Account.from_key(private_key).address
    elif network.kind == "utxo":
        address = hot_wallet_address(private_key, address_network=network.address_network)
    else:
        address = address_from_private_key(private_key)
    return Signer(kind=network.kind, private_key=private_key, address=address)


NETWORKS = {"ETH": eth_network, "BTC": btc_network, "TRON": tron_network}


@pytest.fixture(name="network", params=sorted(NETWORKS))
def network_fixture(request, db):
    """Each of ETH (EVM), BTC (UTXO, bitcoinlib's test network) and TRON in turn."""
    return NETWORKS[request.param]()


class Clock:
    def __init__(self):
        self.offset = timedelta(0)

    def shift(self, **kwargs) -> None:
        self.offset += timedelta(**kwargs)


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch) -> Clock:
    """``timezone.now()`` that tests can move forward."""
    real_now = timezone.now
    moved = Clock()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + moved.offset)
    return moved
