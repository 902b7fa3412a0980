"""GET /api/v1/coins/: the coins open for withdrawal, amounts as strings, with a network fee
estimate read from the chain (refreshed when older than two minutes), and the service and task
that keep the estimate fresh."""

import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from chains import services
from chains.adapters import TransientChainError
from chains.models import Coin, Network
from chains.tasks import refresh_fee_estimates
from tests.fixtures.factories import CoinFactory, usdt_erc20_coin

pytestmark = pytest.mark.django_db


class FakeAdapter:
    """Answers like a node: a fee per coin, or an error, or slowly."""

    def __init__(self, fees: dict[str, Decimal], *, error: Exception | None = None, delay: float = 0):
        self.fees, self.error, self.delay, self.calls = fees, error, delay, []

    def estimate_fee(self, coin):
        self.calls.append(coin.currency)
        if self.delay:
            time.sleep(self.delay)
        if self.error:
            raise self.error
        return self.fees[coin.currency]


@pytest.fixture
def chain(monkeypatch):
    adapter = FakeAdapter({"ETH": Decimal("0.000042000000001"), "USDT": Decimal("0.00013")})
    monkeypatch.setattr(services, "adapter_for", lambda network: adapter)
    return adapter


@pytest.fixture
def app(api_client, customer):
    api_client.force_authenticate(customer.user)
    return api_client


def by_currency(response) -> dict:
    assert response.status_code == 200, response.content
    return {c["currency"]: c for c in response.json()}


def test_lists_enabled_coins_with_amounts_as_strings(app, chain):
    CoinFactory()
    usdt_erc20_coin(contract_address="0x" + "ab" * 20)
    coins = by_currency(app.get("/api/v1/coins/"))
    assert coins["ETH"] == {
        "currency": "ETH", "network": "ETH", "contract": None, "decimals": 8,
        "min_amount": "0.001", "max_amount": "100", "daily_limit": "200", "customer_fee": "0.0005",
        "network_fee_estimate": "0.000042000000001", "fee_currency": "ETH", "confirmations": 3, "enabled": True,
    }
    assert coins["USDT"]["contract"] == "0x" + "ab" * 20
    assert coins["USDT"]["min_amount"] == "1" and coins["USDT"]["customer_fee"] == "1"
    assert coins["USDT"]["network_fee_estimate"] == "0.00013"
    assert coins["USDT"]["fee_currency"] == "ETH"


def test_disabled_coins_are_not_listed(app, chain):
    CoinFactory()
    usdt = usdt_erc20_coin()
    Coin.objects.filter(pk=usdt.pk).update(enabled=False)
    assert list(by_currency(app.get("/api/v1/coins/"))) == ["ETH"]


def test_a_fresh_estimate_is_not_asked_again(app, chain):
    coin = CoinFactory()
    Coin.objects.filter(pk=coin.pk).update(network_fee_estimate=Decimal("0.5"),
                                           network_fee_estimated_at=timezone.now() - timedelta(seconds=60))
    assert by_currency(app.get("/api/v1/coins/"))["ETH"]["network_fee_estimate"] == "0.5"
    assert chain.calls == []


def test_an_old_estimate_is_refreshed_and_stored(app, chain):
    coin = CoinFactory()
    Coin.objects.filter(pk=coin.pk).update(network_fee_estimate=Decimal("0.5"),
                                           network_fee_estimated_at=timezone.now() - timedelta(seconds=121))
    assert by_currency(app.get("/api/v1/coins/"))["ETH"]["network_fee_estimate"] == "0.000042000000001"
    coin.refresh_from_db()
    assert coin.network_fee_estimate == Decimal("0.000042000000001")
    assert timezone.now() - coin.network_fee_estimated_at < timedelta(seconds=5)


def test_a_chain_error_returns_the_stored_estimate_and_backs_off(app, chain, caplog):
    chain.error = TransientChainError("node down")
    coin = CoinFactory()
    stale = timezone.now() - timedelta(hours=1)
    Coin.objects.filter(pk=coin.pk).update(network_fee_estimate=Decimal("0.25"), network_fee_estimated_at=stale)
    with caplog.at_level(logging.WARNING, logger="chains.services"):
        assert by_currency(app.get("/api/v1/coins/"))["ETH"]["network_fee_estimate"] == "0.25"
    assert "node down" in caplog.text
    coin.refresh_from_db()
    assert (coin.network_fee_estimate, coin.network_fee_estimated_at) == (Decimal("0.25"), stale)
    app.get("/api/v1/coins/")
    assert chain.calls == ["ETH"]  # not asked again right away


def test_a_slow_node_does_not_hold_the_answer(app, chain, monkeypatch):
    from chains import api

    monkeypatch.setattr(api, "FEE_ESTIMATE_TIMEOUT_SECONDS", 0.2)
    chain.delay = 1.5
    CoinFactory()
    started = time.monotonic()
    assert by_currency(app.get("/api/v1/coins/"))["ETH"]["network_fee_estimate"] is None
    assert time.monotonic() - started < 1.2


def test_the_list_costs_a_fixed_number_of_queries(app, chain, django_assert_max_num_queries):
    usdt_erc20_coin()
    for code in ("AAA", "BBB", "CCC"):
        CoinFactory(currency__code=code, currency__decimals=8)
    Coin.objects.update(network_fee_estimate=Decimal("0.1"), network_fee_estimated_at=timezone.now())
    with django_assert_max_num_queries(2):  # the customer, the coins with everything they show
        assert len(by_currency(app.get("/api/v1/coins/"))) == 4


# --- the service and the periodic task -------------------------------------------------------


def test_coin_refresh_fee_estimate_rounds_up_to_the_fee_currency(chain):
    chain.fees["ETH"] = Decimal("0.0000000000000000011")  # beyond ETH's 18 decimals
    coin = CoinFactory()
    assert services.coin_refresh_fee_estimate(coin=coin) == Decimal("0.000000000000000002")
    coin.refresh_from_db()
    assert coin.network_fee_estimate == Decimal("0.000000000000000002")


def test_coin_refresh_fee_estimate_keeps_the_old_value_on_error(chain):
    chain.error = RuntimeError("boom")
    coin = CoinFactory()
    assert services.coin_refresh_fee_estimate(coin=coin) is None
    coin.refresh_from_db()
    assert coin.network_fee_estimated_at is None


def test_the_task_refreshes_every_enabled_coin(chain):
    eth = CoinFactory()
    usdt = usdt_erc20_coin()
    Coin.objects.filter(pk=usdt.pk).update(enabled=False)
    assert refresh_fee_estimates() == 1
    eth.refresh_from_db()
    usdt.refresh_from_db()
    assert eth.network_fee_estimate == Decimal("0.000042000000001")
    assert usdt.network_fee_estimate is None


def test_beat_runs_the_refresh_every_minute():
    task = PeriodicTask.objects.get(task="chains.refresh_fee_estimates")
    assert task.enabled and task.interval.every == 60 and task.interval.period == "seconds"


@pytest.mark.chain
def test_the_eth_estimate_is_read_from_a_real_node(app, anvil):
    coin = CoinFactory()
    Network.objects.filter(pk=coin.network_id).update(rpc_url=anvil.url)
    estimate = by_currency(app.get("/api/v1/coins/"))["ETH"]["network_fee_estimate"]
    assert Decimal(estimate) > 0
    assert Decimal(estimate) < Decimal("0.01")  # 21,000 gas at anvil's fees
