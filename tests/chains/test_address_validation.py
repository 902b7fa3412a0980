"""An address is accepted only on its own network, in its canonical form; an address of another
network is ``network_mismatch``; anything else is ``invalid_address``. Pure: no database, no node."""

import pytest

from chains.addresses import address_normalize
from chains.models import Network
from core.errors import DomainError

ETH = Network(code="ETH", kind=Network.Kind.EVM)
BTC = Network(code="BTC", kind=Network.Kind.UTXO, address_network="bitcoin")
BTC_TESTNET = Network(code="BTCTEST", kind=Network.Kind.UTXO, address_network="testnet")
BTC_LOCAL = Network(code="BTCLOCAL", kind=Network.Kind.UTXO, address_network="bitcoinlib_test")
TRON = Network(code="TRON", kind=Network.Kind.TRON, address_network="mainnet")

ETH_ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example
BTC_P2PKH = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BTC_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BTC_P2WPKH = "bc1qtp7fhly84qm6q4hhzmp0nh5frtdugmys2sa75y"
BTC_P2TR = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"  # BIP-86 example
TESTNET_P2WPKH = "tb1qtp7fhly84qm6q4hhzmp0nh5frtdugmysqkxd0h"  # same key as BTC_P2WPKH
TESTNET_P2PKH = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
LOCAL_P2WPKH = "blt1qtp7fhly84qm6q4hhzmp0nh5frtdugmyskz45t9"
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # USDT's TRC-20 contract

VALID = [
    # (network, as typed, canonical)
    (ETH, ETH_ADDR, ETH_ADDR),
    (ETH, ETH_ADDR.lower(), ETH_ADDR),  # one case carries no checksum: accepted, stored checksummed
    (ETH, "0x" + ETH_ADDR[2:].upper(), ETH_ADDR),
    (BTC, BTC_P2PKH, BTC_P2PKH),
    (BTC, BTC_P2SH, BTC_P2SH),
    (BTC, BTC_P2WPKH, BTC_P2WPKH),
    (BTC, BTC_P2WPKH.upper(), BTC_P2WPKH),  # bech32 is case-insensitive; stored lower
    (BTC, BTC_P2TR, BTC_P2TR),
    (BTC_TESTNET, TESTNET_P2WPKH, TESTNET_P2WPKH),
    (BTC_TESTNET, TESTNET_P2PKH, TESTNET_P2PKH),
    (BTC_LOCAL, LOCAL_P2WPKH, LOCAL_P2WPKH),
    (TRON, TRON_ADDR, TRON_ADDR),
]

REFUSED = [
    # (case, network, address, code)
    ("eth bad checksum", ETH, ETH_ADDR.replace("aAeb", "AAeb"), "invalid_address"),
    ("eth too short", ETH, ETH_ADDR[:-1], "invalid_address"),
    ("eth not hex", ETH, "0x" + "g" * 40, "invalid_address"),
    ("eth zero address", ETH, "0x" + "0" * 40, "invalid_address"),
    ("btc bad base58 checksum", BTC, BTC_P2PKH[:-1] + "b", "invalid_address"),
    ("btc bad bech32 checksum", BTC, BTC_P2WPKH[:-1] + "z", "invalid_address"),
    ("btc mixed-case bech32", BTC, BTC_P2WPKH[:10] + BTC_P2WPKH[10:].upper(), "invalid_address"),
    ("tron bad checksum", TRON, TRON_ADDR[:-1] + "u", "invalid_address"),
    ("garbage", ETH, "not-an-address", "invalid_address"),
    ("garbage on btc", BTC, "hello", "invalid_address"),
    ("garbage on tron", TRON, "T" + "1" * 33, "invalid_address"),
    # Valid, but on another network.
    ("tron address for ETH", ETH, TRON_ADDR, "network_mismatch"),
    ("btc address for ETH", ETH, BTC_P2WPKH, "network_mismatch"),
    ("eth address for TRON", TRON, ETH_ADDR, "network_mismatch"),
    ("btc address for TRON", TRON, BTC_P2PKH, "network_mismatch"),
    ("eth address for BTC", BTC, ETH_ADDR, "network_mismatch"),
    ("tron address for BTC", BTC, TRON_ADDR, "network_mismatch"),
    ("testnet bech32 on mainnet", BTC, TESTNET_P2WPKH, "network_mismatch"),
    ("testnet base58 on mainnet", BTC, TESTNET_P2PKH, "network_mismatch"),
    ("mainnet on testnet", BTC_TESTNET, BTC_P2WPKH, "network_mismatch"),
    ("mainnet on the local test chain", BTC_LOCAL, BTC_P2WPKH, "network_mismatch"),
    # Never an address anywhere: refused before any network is asked, nothing stripped.
    ("empty", ETH, "", "invalid_address"),
    ("empty btc", BTC, "", "invalid_address"),
    ("none", TRON, None, "invalid_address"),
    ("overlong", ETH, "0x" + "a" * 200, "invalid_address"),
    ("overlong btc", BTC, "bc1q" + "q" * 130, "invalid_address"),
    ("leading space", ETH, " " + ETH_ADDR, "invalid_address"),
    ("trailing newline", BTC, BTC_P2WPKH + "\n", "invalid_address"),
    ("inner space", TRON, TRON_ADDR[:10] + " " + TRON_ADDR[10:], "invalid_address"),
    ("tab", ETH, ETH_ADDR + "\t", "invalid_address"),
    ("tron address with whitespace on ETH", ETH, TRON_ADDR + " ", "invalid_address"),
    ("non-ascii look-alike", ETH, ETH_ADDR[:-1] + "ԁ", "invalid_address"),
]


@pytest.mark.parametrize(("network", "typed", "canonical"), VALID,
                         ids=[f"{n.code}-{a[:12]}" for n, a, _ in VALID])
def test_valid_addresses_come_back_canonical(network, typed, canonical):
    assert address_normalize(network=network, address=typed) == canonical


@pytest.mark.parametrize(("case", "network", "address", "code"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_addresses_name_the_reason(case, network, address, code):
    with pytest.raises(DomainError) as refused:
        address_normalize(network=network, address=address)
    assert refused.value.code == code, refused.value.detail
    assert refused.value.field == "address"
    assert refused.value.status == 400


def test_mismatch_says_where_the_address_belongs():
    with pytest.raises(DomainError) as refused:
        address_normalize(network=ETH, address=TRON_ADDR)
    assert "tron" in refused.value.detail.lower()
