"""ERC-20 helpers and the demo token (DemoUSDT) used on the local anvil chain.

The token is compiled from ``chains/contracts/DemoUSDT.vy`` with the installed vyper package,
so development and tests need no downloaded compiler. ``ERC20_ABI`` is the standard subset the
adapter needs to talk to any ERC-20 (the real USDT included); the demo ABI adds ``mint``.
Private keys are taken as arguments, used to sign, and never logged.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract

CONTRACT_SOURCE = Path(__file__).resolve().parent / "contracts" / "DemoUSDT.vy"
RECEIPT_TIMEOUT = 30  # seconds; the demo token lives on anvil, which mines at once

ERC20_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
     "inputs": [{"name": "receiver", "type": "address"}, {"name": "amount", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "decimals", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "uint8"}]},
    {"type": "function", "name": "symbol", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "string"}]},
    {"type": "event", "name": "Transfer", "anonymous": False,
     "inputs": [{"name": "sender", "type": "address", "indexed": True},
                {"name": "receiver", "type": "address", "indexed": True},
                {"name": "value", "type": "uint256", "indexed": False}]},
]


@functools.cache
def compile_demo_token() -> tuple[list[dict[str, Any]], str]:
    """(abi, bytecode) of DemoUSDT. Compiling takes about a second, so once per process."""
    import vyper

    output = vyper.compile_code(CONTRACT_SOURCE.read_text(), output_formats=["abi", "bytecode"])
    return output["abi"], output["bytecode"]


def token_contract(w3: Web3, address: str) -> Contract:
    """Any ERC-20 at ``address``, through the standard ABI subset."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=ERC20_ABI)


def demo_token_contract(w3: Web3, address: str) -> Contract:
    """The demo token at ``address`` with its full ABI (``mint``, ``owner``, ``allowance``...)."""
    abi, _bytecode = compile_demo_token()
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def _transact(w3: Web3, private_key: bytes | str, tx: dict[str, Any]) -> dict[str, Any]:
    """Sign ``tx`` (gas, fees, nonce filled by the node), send it, wait, and insist it succeeded."""
    account = Account.from_key(private_key)
    tx = {**tx, "from": account.address,
          "nonce": w3.eth.get_transaction_count(account.address, "pending"),
          "chainId": w3.eth.chain_id}
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)  # raises ContractLogicError if it would revert
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    priority = w3.eth.max_priority_fee
    tx.update(type=2, maxPriorityFeePerGas=priority, maxFeePerGas=2 * base_fee + priority)
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.to_0x_hex()} reverted")
    return receipt


def deploy_demo_token(w3: Web3, deployer_private_key: bytes | str) -> str:
    """Deploy DemoUSDT; the deployer becomes its owner (the only minter). Returns the address."""
    _abi, bytecode = compile_demo_token()  # the constructor takes no arguments
    receipt = _transact(w3, deployer_private_key, {"data": bytecode})
    return receipt["contractAddress"]


def mint(w3: Web3, token_address: str, *, owner_private_key: bytes | str, to: str, units: int) -> str:
    """Mint ``units`` (smallest units) of the demo token to ``to``; returns the tx hash."""
    token = demo_token_contract(w3, token_address)
    data = token.encode_abi("mint", args=[Web3.to_checksum_address(to), units])
    receipt = _transact(w3, owner_private_key, {"to": token.address, "data": data})
    return receipt["transactionHash"].to_0x_hex()


def balance_of(w3: Web3, token_address: str, owner: str) -> int:
    """Token balance of ``owner`` in smallest units."""
    return token_contract(w3, token_address).functions.balanceOf(Web3.to_checksum_address(owner)).call()
