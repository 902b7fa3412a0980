"""seed_demo records an opening balance for each hot wallet (maker treasury1, checker treasury2),
so the running demo reconciles clean; a second seed keeps them."""

import pytest
from django.core.management import call_command

from withdrawals.models import HotWalletOpening, ReconciliationAlert
from withdrawals.services.reconciliation import reconciliation_run

pytestmark = [pytest.mark.django_db, pytest.mark.chain]


def test_the_seeded_demo_reconciles_clean(demo_chain_env, anvil):
    call_command("seed_demo", demo=True, verbosity=0)
    openings = HotWalletOpening.objects.filter(status="active")
    assert {(o.network.code, o.currency.code) for o in openings} == {
        ("ETH", "ETH"), ("ETH", "USDT"), ("BTC", "BTC"), ("TRON", "TRX"), ("TRON", "USDT")}
    assert all(o.recorded_by.username == "treasury1" and o.decided_by.username == "treasury2" for o in openings)
    assert {(c.network, c.currency, c.outcome) for c in reconciliation_run()} == {
        ("ETH", "ETH", "ok"), ("ETH", "USDT", "ok"), ("BTC", "BTC", "ok"), ("TRON", "TRX", "ok"),
        ("TRON", "USDT", "ok")}
    assert not ReconciliationAlert.objects.exists()
    count = HotWalletOpening.objects.count()
    call_command("seed_demo", demo=True, verbosity=0)
    assert HotWalletOpening.objects.count() == count
