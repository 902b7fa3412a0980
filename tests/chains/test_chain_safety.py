"""Issue 12 on the coin side: decimals come from the token, the chain is the right one, fees are
bounded. The chain checks run against a real anvil node with the demo token (6 decimals)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chains.adapters import adapter_for
from chains.models import Coin, Network
from chains.services import coin_chain_problem, coin_set_enabled
from core.errors import DomainError
from tests.fixtures.factories import CoinFactory, CurrencyFactory, NetworkFactory, eth_network
from withdrawals_site import preflight

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(anvil) -> Network:
    network = eth_network()
    Network.objects.filter(pk=network.pk).update(rpc_url=anvil.url)
    network.refresh_from_db()
    return network


def token_coin(network: Network, token: str, *, chain_decimals: int, enabled: bool = False,
               fee_cap: Decimal | None = Decimal("0.01")) -> Coin:
    return CoinFactory(currency=CurrencyFactory(code="USDT", decimals=6), network=network, contract_address=token,
                       decimals=6, chain_decimals=chain_decimals, min_amount=Decimal("1"), max_amount=Decimal("1000"),
                       daily_limit=Decimal("2000"), customer_fee=Decimal("1"), enabled=enabled, fee_cap=fee_cap)


# --- 1. decimals from the token -------------------------------------------------------------------

@pytest.mark.chain
def test_the_evm_adapter_reads_the_tokens_own_decimals(network, demo_token):
    assert adapter_for(network).token_decimals(demo_token) == 6


@pytest.mark.chain
def test_enabling_a_coin_whose_chain_decimals_are_not_the_tokens_is_refused(network, demo_token):
    coin = token_coin(network, demo_token, chain_decimals=18)
    with pytest.raises(DomainError) as refused:
        coin_set_enabled(coin=coin, enabled=True)
    assert refused.value.code == "chain_mismatch"
    assert "has 6 decimals, the coin says 18" in refused.value.detail
    coin.refresh_from_db()
    assert coin.enabled is False  # nothing changed

    Coin.objects.filter(pk=coin.pk).update(chain_decimals=6)
    coin.refresh_from_db()
    assert coin_set_enabled(coin=coin, enabled=True) is True


@pytest.mark.chain
def test_the_admin_refuses_to_save_a_coin_the_token_contradicts(network, demo_token, admin_client):
    coin = token_coin(network, demo_token, chain_decimals=6)
    form = {"currency": coin.currency_id, "network": network.pk, "contract_address": demo_token, "enabled": "on",
            "decimals": 6, "chain_decimals": 18, "min_amount": "1", "max_amount": "1000", "daily_limit": "2000",
            "customer_fee": "1", "confirmations": 3, "fee_currency": coin.fee_currency_id, "fee_cap": "0.01"}
    response = admin_client.post(f"/admin/chains/coin/{coin.pk}/change/", form)
    assert response.status_code == 200
    assert "has 6 decimals, the coin says 18" in response.content.decode()
    coin.refresh_from_db()
    assert coin.chain_decimals == 6


@pytest.mark.chain
def test_a_native_coin_must_have_the_networks_own_decimals(network):
    coin = CoinFactory(network=network, enabled=False, chain_decimals=12, decimals=8, fee_cap=Decimal("0.01"))
    assert "native coin with 18 decimals" in coin_chain_problem(coin=coin)
    with pytest.raises(DomainError, match="native coin"):
        coin_set_enabled(coin=coin, enabled=True)


def test_the_precision_is_at_most_the_chain_decimals():
    coin = CoinFactory(currency=CurrencyFactory(code="USDT", decimals=6), decimals=6, chain_decimals=6)
    coin.chain_decimals = 4
    with pytest.raises(ValidationError) as caught:
        coin.full_clean()
    assert "At most the chain's 4 decimals." in caught.value.message_dict["decimals"]
    with pytest.raises(IntegrityError, match="coin_decimals_le_chain"), transaction.atomic():
        Coin.objects.filter(pk=coin.pk).update(chain_decimals=4)


# --- 2. the right chain ---------------------------------------------------------------------------

def test_an_evm_network_needs_a_chain_id():
    network = eth_network()
    network.chain_id = None
    with pytest.raises(ValidationError) as caught:
        network.full_clean()
    assert "chain id" in caught.value.message_dict["chain_id"][0]
    with pytest.raises(IntegrityError, match="network_evm_chain_id"), transaction.atomic():
        Network.objects.filter(pk=network.pk).update(chain_id=None)
    # Other kinds have none.
    NetworkFactory(code="BTC", kind=Network.Kind.UTXO, chain_id=None,
                   native_currency=CurrencyFactory(code="BTC", decimals=8)).full_clean()


@pytest.mark.chain
def test_a_network_row_saying_chain_1_on_anvil_is_refused_at_start_and_on_enabling(network, settings):
    Network.objects.filter(pk=network.pk).update(chain_id=1)
    network.refresh_from_db()
    (problem,) = preflight.check_network_chain_ids()
    assert problem.service == "ETH node" and "is chain 31337, expected 1" in problem.message

    coin = CoinFactory(network=network, enabled=False, chain_decimals=18, fee_cap=Decimal("0.01"))
    with pytest.raises(DomainError) as refused:
        coin_set_enabled(coin=coin, enabled=True)
    assert refused.value.code == "chain_mismatch" and "on chain 31337" in refused.value.detail
    assert Coin.objects.get(pk=coin.pk).enabled is False

    Network.objects.filter(pk=network.pk).update(chain_id=31337)
    assert preflight.check_network_chain_ids() == []


# --- 3. bounded fees ------------------------------------------------------------------------------

def test_a_coin_cannot_be_enabled_without_a_fee_cap():
    coin = CoinFactory(enabled=False, fee_cap=None)
    with pytest.raises(DomainError) as refused:
        coin_set_enabled(coin=coin, enabled=True)
    assert refused.value.code == "fee_cap_required" and refused.value.field == "fee_cap"
    assert Coin.objects.get(pk=coin.pk).enabled is False
    coin.enabled = True
    with pytest.raises(ValidationError) as caught:
        coin.full_clean()
    assert "without a fee cap" in caught.value.message_dict["fee_cap"][0]
    with pytest.raises(IntegrityError, match="coin_enabled_needs_fee_cap"), transaction.atomic():
        Coin.objects.filter(pk=coin.pk).update(enabled=True)


def test_the_admin_enable_action_says_why_it_refused(admin_client):
    coin = CoinFactory(enabled=False, fee_cap=None)
    response = admin_client.post("/admin/chains/coin/", {"action": "enable", "_selected_action": [coin.pk]},
                                 follow=True)
    assert "not enabled: " in response.content.decode() and "without a fee cap" in response.content.decode()
    assert Coin.objects.get(pk=coin.pk).enabled is False
