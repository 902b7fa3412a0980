"""DemoUSDT, compiled from the repo's Vyper source and deployed to a real anvil."""

from __future__ import annotations

import pytest
from web3.exceptions import ContractLogicError

from chains import erc20
from tests.fixtures.anvil import DEMO_TOKEN_SUPPLY

pytestmark = pytest.mark.chain

MAX_UINT256 = 2**256 - 1


@pytest.fixture
def fresh_token(anvil) -> str:
    """A token of its own, so supply and allowances start from zero."""
    return erc20.deploy_demo_token(anvil.w3, anvil.accounts[0].key)


def demo(anvil, address):
    return erc20.demo_token_contract(anvil.w3, address)


def test_compiles_from_source_once_per_process():
    abi, bytecode = erc20.compile_demo_token()
    names = {entry.get("name") for entry in abi}
    assert {"name", "symbol", "decimals", "totalSupply", "balanceOf", "transfer", "transferFrom",
            "approve", "allowance", "mint", "Transfer", "Approval"} <= names
    assert bytecode.startswith("0x") and len(bytecode) > 100
    assert erc20.compile_demo_token() is erc20.compile_demo_token()


def test_deploy_sets_metadata_and_owner(anvil, fresh_token):
    token = demo(anvil, fresh_token)
    assert token.functions.symbol().call() == "USDT"
    assert token.functions.decimals().call() == 6
    assert token.functions.totalSupply().call() == 0
    assert token.functions.owner().call() == anvil.accounts[0].address


def test_session_token_holds_the_minted_supply(anvil, demo_token):
    assert erc20.balance_of(anvil.w3, demo_token, anvil.accounts[0].address) >= int(DEMO_TOKEN_SUPPLY) * 10**6 // 2


def test_owner_mints_and_supply_follows(anvil, fresh_token):
    receiver = anvil.accounts[3].address
    tx_hash = erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[0].key, to=receiver, units=5_000_000)
    assert erc20.balance_of(anvil.w3, fresh_token, receiver) == 5_000_000
    assert demo(anvil, fresh_token).functions.totalSupply().call() == 5_000_000
    receipt = anvil.w3.eth.get_transaction_receipt(tx_hash)
    (event,) = erc20.token_contract(anvil.w3, fresh_token).events.Transfer().process_receipt(receipt)
    assert event.args.sender == "0x" + "0" * 40 and event.args.receiver == receiver and event.args.value == 5_000_000


def test_only_the_owner_mints(anvil, fresh_token):
    with pytest.raises(ContractLogicError, match="only the owner mints"):
        erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[1].key,
                   to=anvil.accounts[1].address, units=1)


def test_transfer_moves_balance_and_logs(anvil, fresh_token):
    alice, bob = anvil.accounts[1].address, anvil.accounts[2].address
    erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[0].key, to=alice, units=1_000)
    token = erc20.token_contract(anvil.w3, fresh_token)
    tx_hash = token.functions.transfer(bob, 400).transact({"from": alice})
    receipt = anvil.w3.eth.wait_for_transaction_receipt(tx_hash)
    (event,) = token.events.Transfer().process_receipt(receipt)
    assert (event.args.sender, event.args.receiver, event.args.value) == (alice, bob, 400)
    assert erc20.balance_of(anvil.w3, fresh_token, alice) == 600
    assert erc20.balance_of(anvil.w3, fresh_token, bob) == 400


def test_transfer_beyond_balance_reverts(anvil, fresh_token):
    alice = anvil.accounts[1].address
    erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[0].key, to=alice, units=10)
    with pytest.raises(ContractLogicError):
        erc20.token_contract(anvil.w3, fresh_token).functions.transfer(anvil.accounts[2].address, 11) \
            .transact({"from": alice})
    assert erc20.balance_of(anvil.w3, fresh_token, alice) == 10


def test_approve_and_transfer_from_spend_the_allowance(anvil, fresh_token):
    owner, spender, receiver = (a.address for a in anvil.accounts[1:4])
    erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[0].key, to=owner, units=1_000)
    token = demo(anvil, fresh_token)
    anvil.w3.eth.wait_for_transaction_receipt(token.functions.approve(spender, 300).transact({"from": owner}))
    assert token.functions.allowance(owner, spender).call() == 300
    token.functions.transferFrom(owner, receiver, 200).transact({"from": spender})
    assert token.functions.allowance(owner, spender).call() == 100
    assert erc20.balance_of(anvil.w3, fresh_token, receiver) == 200
    with pytest.raises(ContractLogicError):
        token.functions.transferFrom(owner, receiver, 101).transact({"from": spender})


def test_unlimited_allowance_is_not_spent(anvil, fresh_token):
    owner, spender = anvil.accounts[1].address, anvil.accounts[2].address
    erc20.mint(anvil.w3, fresh_token, owner_private_key=anvil.accounts[0].key, to=owner, units=50)
    token = demo(anvil, fresh_token)
    token.functions.approve(spender, MAX_UINT256).transact({"from": owner})
    token.functions.transferFrom(owner, spender, 50).transact({"from": spender})
    assert token.functions.allowance(owner, spender).call() == MAX_UINT256
