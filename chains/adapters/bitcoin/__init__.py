"""The ``utxo`` kind (BTC) through bitcoinlib's low-level modules.

* ``codec``: addresses, keys, scripts, amounts, fees, coin selection, signing, signed messages (pure);
* ``backends``: the node (bitcoind JSON-RPC, or the local ``bitcoinlib_test`` chain);
* ``adapter``: the ChainAdapter over both.
"""
