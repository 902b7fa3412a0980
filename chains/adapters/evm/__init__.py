"""The ``evm`` kind (ETH and ERC-20) through web3.py: ``adapter`` holds the adapter and its helpers."""
