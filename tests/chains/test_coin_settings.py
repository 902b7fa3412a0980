"""Impossible coin settings are refused: by the model's validation (what the admin shows) and,
for the rules that fit in a row, by the database itself."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chains.models import Coin, Network
from tests.fixtures.factories import CoinFactory, CurrencyFactory, btc_network, eth_network, usdt_erc20_coin
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db


def coin_with(**changes) -> Coin:
    coin = CoinFactory()
    for name, value in changes.items():
        setattr(coin, name, value)
    return coin


def errors_of(coin: Coin) -> dict:
    with pytest.raises(ValidationError) as caught:
        coin.full_clean()
    return caught.value.message_dict


def test_valid_settings_pass():
    CoinFactory().full_clean()
    usdt_erc20_coin().full_clean()


def test_minimum_above_maximum_is_refused():
    assert "max_amount" in errors_of(coin_with(min_amount=Decimal("5"), max_amount=Decimal("1")))


def test_daily_limit_below_minimum_is_refused():
    assert "daily_limit" in errors_of(coin_with(min_amount=Decimal("5"), daily_limit=Decimal("1")))


@pytest.mark.parametrize("field", ["min_amount", "max_amount", "daily_limit", "customer_fee"])
def test_amounts_with_more_decimals_than_the_coin_are_refused(field):
    coin = coin_with(decimals=2)
    setattr(coin, field, getattr(coin, field) + Decimal("0.001"))
    assert field in errors_of(coin)


def test_trailing_zeros_are_not_extra_precision():
    coin_with(decimals=2, min_amount=Decimal("0.100000"), customer_fee=Decimal("0.00")).full_clean()


def test_coin_decimals_beyond_the_currency_are_refused():
    usdt = usdt_erc20_coin()
    usdt.decimals = 7  # USDT has 6
    assert "decimals" in errors_of(usdt)


def test_the_fee_currency_must_be_the_networks_native_currency():
    usdt = usdt_erc20_coin()
    usdt.fee_currency = usdt.currency  # fees on ETH are paid in ETH, not USDT
    assert errors_of(usdt)["fee_currency"] == ["Fees on ETH are paid in ETH."]


def test_bitcoin_has_no_token_contracts():
    network = btc_network()
    coin = CoinFactory.build(currency=CurrencyFactory(code="BTC", decimals=8), network=network,
                             fee_currency=network.native_currency, contract_address="0x" + "11" * 20)
    assert "contract_address" in errors_of(coin)


def test_a_currency_is_once_per_network():
    coin = CoinFactory()
    duplicate = CoinFactory.build(currency=coin.currency, network=coin.network, fee_currency=coin.fee_currency)
    assert "__all__" in errors_of(duplicate)


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"min_amount": Decimal("5"), "max_amount": Decimal("1")}, "coin_max_ge_min"),
        ({"min_amount": Decimal("0"), "max_amount": Decimal("1")}, "coin_min_positive"),
        ({"min_amount": Decimal("5"), "max_amount": Decimal("10"), "daily_limit": Decimal("1")}, "coin_daily_ge_min"),
        ({"customer_fee": Decimal("-1")}, "coin_fee_not_negative"),
    ],
)
def test_the_database_refuses_impossible_settings_too(changes, constraint):
    coin = CoinFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Coin.objects.filter(pk=coin.pk).update(**changes)


def test_the_database_refuses_a_second_coin_for_the_same_pair():
    coin = CoinFactory()
    with pytest.raises(IntegrityError, match="coin_currency_network_unique"), transaction.atomic():
        Coin.objects.bulk_create([Coin(currency=coin.currency, network=coin.network, fee_currency=coin.fee_currency,
                                       decimals=8, chain_decimals=18, min_amount=1, max_amount=2, daily_limit=2,
                                       confirmations=1)])


# --- the admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    return login_verified_staff(client, user)


@pytest.fixture
def node(anvil):
    """The ETH network's node is the session's anvil: an enabled coin's settings are checked on it."""
    Network.objects.filter(pk=eth_network().pk).update(rpc_url=anvil.url)
    return anvil


def test_the_admin_shows_validation_errors_and_saves_nothing(admin_client, node):
    coin = CoinFactory()
    url = f"/admin/chains/coin/{coin.pk}/change/"
    form = {
        "currency": coin.currency_id, "network": coin.network_id, "contract_address": "", "enabled": "on",
        "decimals": 8, "min_amount": "5", "max_amount": "1", "daily_limit": "10", "customer_fee": "0",
        "confirmations": 3, "fee_currency": coin.fee_currency_id, "fee_cap": "0.01", "chain_decimals": 18,
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert "The maximum is below the minimum." in response.content.decode()
    coin.refresh_from_db()
    assert coin.max_amount == Decimal("100")

    form["max_amount"] = "50"
    assert admin_client.post(url, form).status_code == 302
    coin.refresh_from_db()
    assert coin.max_amount == Decimal("50")


def test_the_coin_list_filters_and_searches(admin_client, django_assert_max_num_queries):
    eth = CoinFactory()
    usdt = usdt_erc20_coin()
    Coin.objects.filter(pk=usdt.pk).update(enabled=False)
    with django_assert_max_num_queries(12):
        page = admin_client.get("/admin/chains/coin/", {"enabled__exact": "0"}).content.decode()
    assert "USDT/ETH" in page and "ETH/ETH" not in page
    page = admin_client.get("/admin/chains/coin/", {"q": "USDT"}).content.decode()
    assert "USDT/ETH" in page and "ETH/ETH" not in page
    assert str(eth) in admin_client.get("/admin/chains/coin/").content.decode()


def test_admin_actions_open_and_close_coins(admin_client, node):
    coin = CoinFactory(enabled=True)
    admin_client.post("/admin/chains/coin/", {"action": "disable", "_selected_action": [coin.pk]})
    coin.refresh_from_db()
    assert coin.enabled is False
    admin_client.post("/admin/chains/coin/", {"action": "enable", "_selected_action": [coin.pk]})
    coin.refresh_from_db()
    assert coin.enabled is True


def test_networks_and_currencies_are_listed(admin_client):
    eth_network()
    page = admin_client.get("/admin/chains/network/", {"q": "ETH"}).content.decode()
    assert "Ethereum (local anvil)" in page
    assert admin_client.get("/admin/chains/network/", {"kind__exact": Network.Kind.EVM}).status_code == 200
    assert admin_client.get("/admin/chains/currency/").status_code == 200


def test_pausing_a_network_from_the_list_asks_why_and_is_audited(admin_client):
    from chains import services
    from chains.models import KillSwitchChange

    network = eth_network()
    action = {"action": "pause_sending", "_selected_action": [network.pk]}
    form = admin_client.post("/admin/chains/network/", action)
    assert b"reason" in form.content
    network.refresh_from_db()
    assert network.sending_paused is False  # nothing flips before a reason is given
    admin_client.post("/admin/chains/network/", {**action, "apply": "1", "reason": "Node upgrade tonight"})
    network.refresh_from_db()
    assert network.sending_paused is True
    change = KillSwitchChange.objects.get(network=network)
    assert change.paused is True and change.actor.username == "root" and change.reason == "Node upgrade tonight"
    assert services.sending_pause_set(network=network, paused=True, actor=None, reason="again") is False
