"""Values in USD/HKD from the staff-maintained price table (``PriceQuote``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from approvals.models import PriceQuote

# A quote older than this is not used (the value is unknown, so value conditions apply).
DEFAULT_MAX_AGE = timedelta(days=7)


def price_max_age() -> timedelta:
    return getattr(settings, "PRICE_QUOTE_MAX_AGE", DEFAULT_MAX_AGE)


def value_in(*, currency, amount: Decimal, quote: str) -> Decimal | None:
    """``amount`` of ``currency`` (a code or a Currency) valued in ``quote`` (USD or HKD).

    None when there is no quote for the pair, or it is older than PRICE_QUOTE_MAX_AGE: callers
    treat an unknown value as "at or above any threshold" (fail safe).
    """
    return values_in(currency=currency, amount=amount, quotes=(quote,))[quote.upper()]


def values_in(*, currency, amount: Decimal, quotes: tuple[str, ...]) -> dict[str, Decimal | None]:
    """``value_in`` for several quotes, read in one query: {quote (upper case): value or None}.
    Prices are staff-maintained, so they are read every time (never cached)."""
    code = getattr(currency, "code", currency)
    wanted = [quote.upper() for quote in quotes]
    rows = {row.quote: row for row in PriceQuote.objects.filter(currency__code=code, quote__in=wanted)
            .only("quote", "price", "updated_at")}
    oldest = timezone.now() - price_max_age()
    values: dict[str, Decimal | None] = {}
    for quote in wanted:
        row = rows.get(quote)
        fresh = row is not None and row.updated_at >= oldest
        values[quote] = (Decimal(amount) * row.price).quantize(Decimal("0.01")) if fresh else None
    return values


def travel_rule_threshold_hkd() -> Decimal:
    return Decimal(str(getattr(settings, "TRAVEL_RULE_THRESHOLD_HKD", "8000")))
