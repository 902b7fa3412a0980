"""Tax records from the entries the cash-out apps really post: a P2P purchase, then a sell of
part of it at a firm quote. The lots and the gain come from the ledger alone (tax/extraction.py
reads the `p2p_release` and `sell` entries' requests), and match the trade and the sell."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.models import PriceQuote
from fiat.services.sells import quote_create, sell_execute
from ledger.selectors import ledger_check
from p2p.services import trade_release
from tax.services import tax_report_compute
from tests.fixtures.factories import CurrencyFactory
from tests.p2p.conftest import market  # noqa: F401 - the P2P market fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def p2p_settings(settings, tmp_path):
    """As tests/p2p/conftest.py: bank accounts usable at once, evidence files in a temporary dir."""
    settings.MEDIA_ROOT = tmp_path
    settings.BANK_ACCOUNT_COOLDOWN = timedelta(0)


def _buy_by_p2p(market, amount: str):  # noqa: F811
    trade = market.take(market.offer(), amount=amount)
    trade = market.paid(trade)
    return trade_release(trade=trade, customer=market.seller, version=trade.version, otp=market.otp())


@pytest.mark.parametrize("method", ["fifo", "hifo", "average"])
def test_a_sell_after_a_p2p_purchase_gains_the_difference_of_the_two_prices(market, method, settings,  # noqa: F811
                                                                            monkeypatch):
    for code in ("HKD", "USD"):
        CurrencyFactory(code=code, decimals=2)
    settings.FIAT_SELL_SPREAD = "0"
    trade = _buy_by_p2p(market, "1000")  # 1,000 USDT at 7.80 HKD
    assert trade.status == "released"
    buyer = market.buyer
    buyer.kyc_status, buyer.kyc_level = "approved", 2
    buyer.save(update_fields=["kyc_status", "kyc_level"])

    PriceQuote.objects.update_or_create(currency_id=CurrencyFactory(code="USDT", decimals=6).pk, quote="HKD",
                                        defaults={"price": Decimal("7.95")})
    from core import customer_otp

    # The buyer has no TOTP device here; the real verifier is tested in tests/withdrawals.
    monkeypatch.setitem(customer_otp._VERIFIER, "verify", lambda *, customer, code: None)
    quote = quote_create(customer=buyer, sell_currency="USDT", sell_amount="400", fiat="HKD")
    sell, _ = sell_execute(customer=buyer, idempotency_key="tax-1", quote_id=quote.pk, otp="123456")
    assert sell.price == Decimal("7.95")
    assert ledger_check() == []

    today = timezone.now().date()
    built = tax_report_compute(customer=buyer, start=today - timedelta(days=1), end=today + timedelta(days=1),
                               fiat="HKD", method=method, fee_as="cost")
    gains = built.files["gains.csv"].decode()
    # One disposal of 400 USDT: proceeds 400 × 7.95 = 3,180.00, cost 400 × 7.80 = 3,120.00, gain 60.00
    # whichever method (a single lot bought at one price).
    assert "3180.00" in gains and "3120.00" in gains and "60.00" in gains, gains
    lots = built.files["lots.csv"].decode()
    assert f"p2p:trade:{trade.pk}:release" in lots, lots

    seller_built = tax_report_compute(customer=market.seller, start=today - timedelta(days=1),
                                      end=today + timedelta(days=1), fiat="HKD", method=method, fee_as="cost")
    # The seller disposed of what the buyer received at the trade price: 1,000 × 7.80 = 7,800.00.
    assert "7800.00" in seller_built.files["gains.csv"].decode()
