"""Prices as history: every change of a PriceQuote is a snapshot (its pghistory event), so the
price at any past moment is known after the row was overwritten."""

from decimal import Decimal

import pytest

from approvals.models import PriceQuote
from tax.prices import price_at, price_history
from tests.fixtures.factories import CurrencyFactory


@pytest.mark.django_db(transaction=True)  # each change its own transaction, so its own time
def test_an_overwritten_price_is_still_the_price_of_its_time():
    quote = PriceQuote.objects.create(currency=CurrencyFactory(code="ETH"), quote="HKD", price=Decimal("20000"))
    quote.price = Decimal("25000")
    quote.save()
    PriceQuote.objects.filter(pk=quote.pk).update(price=Decimal("26000"))  # a bulk update is recorded too
    events = list(PriceQuote.pgh_event_model.objects.order_by("pgh_id").values_list("pgh_created_at", "price"))
    assert [price for _, price in events] == [Decimal("20000"), Decimal("25000"), Decimal("26000")]
    history = price_history(currencies=["ETH"], quote="HKD")
    for at, price in events:
        assert history.price_at("ETH", "HKD", at) == price
    assert history.price_at("ETH", "HKD", events[0][0].replace(year=2000)) is None
    assert price_at(currency="ETH", quote="USD", at=events[-1][0]) is None


@pytest.mark.django_db(transaction=True)
def test_after_a_delete_the_price_is_unknown():
    quote = PriceQuote.objects.create(currency=CurrencyFactory(code="BTC", decimals=8), quote="USD",
                                      price=Decimal("90000"))
    quote.delete()
    (created, deleted) = PriceQuote.pgh_event_model.objects.order_by("pgh_id").values_list("pgh_created_at",
                                                                                           flat=True)
    history = price_history(currencies=["BTC"], quote="USD")
    assert history.price_at("BTC", "USD", created) == Decimal("90000")
    assert history.price_at("BTC", "USD", deleted) is None
