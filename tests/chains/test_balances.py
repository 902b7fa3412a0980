"""ChainAdapter.balance on the offline chains: BTC sums the node's unspent outputs; the recorded
TRON node answers getaccount / balanceOf from what was funded and the included transfers and fees."""

import secrets
from decimal import Decimal

from chains.adapters.base import CoinConfig, NetworkConfig
from chains.adapters.tron.adapter import TronAdapter
from chains.adapters.tron.backends import RecordedTronBackend
from chains.adapters.tron.codec import address_from_private_key

TRX = CoinConfig(currency="TRX", decimals=6)
USDT = CoinConfig(currency="USDT", decimals=6, contract_address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")


def test_recorded_tron_balances_follow_funding_and_included_transfers(tmp_path):
    backend = RecordedTronBackend(tmp_path)
    adapter = TronAdapter(NetworkConfig(code="TRON", kind="tron"), backend=backend)
    key = secrets.token_bytes(32)
    hot, receiver = address_from_private_key(key), address_from_private_key(secrets.token_bytes(32))
    assert adapter.balance(TRX, hot) == 0 and adapter.balance(USDT, hot) == 0
    backend.fund(hot, sun=100_000_000)
    backend.fund(hot, contract=USDT.contract_address, units=5_000_000)
    trx_tx = adapter.build_and_sign(coin=TRX, to_address=receiver, amount=Decimal("1.5"), private_key=key)
    usdt_tx = adapter.build_and_sign(coin=USDT, to_address=receiver, amount=Decimal("2"), private_key=key)
    adapter.broadcast(trx_tx)
    adapter.broadcast(usdt_tx)
    assert adapter.balance(TRX, hot) == Decimal("100")  # not included yet
    backend.advance(1)
    statuses = adapter.tx_statuses([trx_tx.tx_hash, usdt_tx.tx_hash])
    fees = sum(s.fee_paid for s in statuses.values())
    assert adapter.balance(TRX, hot) == Decimal("100") - Decimal("1.5") - fees
    assert adapter.balance(USDT, hot) == Decimal("3")
    assert adapter.balance(TRX, receiver) == Decimal("1.5") and adapter.balance(USDT, receiver) == Decimal("2")


def test_btc_balance_is_the_sum_of_unspent_outputs(tmp_path):
    from chains.adapters.bitcoin.adapter import UtxoAdapter
    from chains.adapters.bitcoin.backends import LocalTestChainBackend
    from chains.adapters.bitcoin.codec import hot_wallet_address

    backend = LocalTestChainBackend(tmp_path, address_network="bitcoinlib_test", block_seconds=0)
    adapter = UtxoAdapter(NetworkConfig(code="BTC", kind="utxo", address_network="bitcoinlib_test"),
                          backend=backend)
    hot = hot_wallet_address(secrets.token_bytes(32), address_network="bitcoinlib_test")
    btc = CoinConfig(currency="BTC", decimals=8)
    assert adapter.balance(btc, hot) == 0
    backend.fund(hot, 50_000_000)
    backend.fund(hot, 1_000)
    assert adapter.balance(btc, hot) == Decimal("0.50001")
