"""seed_demo builds a usable demo on a real local chain, and a second run changes nothing."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command

from chains.models import Coin
from ledger.selectors import customer_balances, ledger_check

pytestmark = [pytest.mark.django_db, pytest.mark.chain]


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()
            if model._meta.app_label in {"auth", "customers", "chains", "ledger", "approvals", "withdrawals"}}


def test_seed_demo_is_idempotent_and_usable(demo_chain_env, anvil):
    call_command("seed_demo", demo=True, verbosity=0)
    first = row_counts()
    contract = Coin.objects.get(currency__code="USDT", network__code="ETH").contract_address
    call_command("seed_demo", demo=True, verbosity=0)
    assert row_counts() == first
    usdt = Coin.objects.get(currency__code="USDT", network__code="ETH")
    assert usdt.contract_address == contract and anvil.w3.eth.get_code(contract)  # deployed once, still there
    eth = Coin.objects.get(currency__code="ETH", network__code="ETH")
    assert eth.network_fee_estimate and eth.network_fee_estimate > 0  # read from anvil
    from customers.models import Customer

    alice = Customer.objects.get(user__username="alice")
    # The demo's addresses and passwords are seeded, not "changed": no demo customer starts frozen.
    assert not Customer.objects.filter(payouts_frozen_until__isnull=False).exists()
    balances = {b["currency"]: b for b in customer_balances(customer=alice)}
    assert balances["ETH"]["available"] == Decimal("3.5")
    assert ledger_check() == []
    from p2p.models import P2POffer

    offer = P2POffer.objects.get(seller=alice)  # the demo's P2P offer, once
    assert offer.status == "active" and offer.payment_methods.get().status == "active"
    assert set(Coin.objects.filter(enabled=True).values_list("currency__code", "network__code")) == {
        ("ETH", "ETH"), ("USDT", "ETH"), ("BTC", "BTC"), ("USDT", "TRON")}
