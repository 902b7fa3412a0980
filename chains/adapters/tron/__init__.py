"""The ``tron`` kind (TRX and TRC-20) through tronpy's keys.

* ``codec``: addresses, the raw_data protobuf encoding, txids, signing, signed messages (pure);
* ``backends``: the node (a full node's HTTP API, or recorded answers);
* ``adapter``: the ChainAdapter over both.
"""
