"""Quotes and sells (SPEC.md "Cash-out to fiat").

``quote_create``: the price table's price (approvals ``PriceQuote``, fresh within
``FIAT_QUOTE_PRICE_MAX_AGE``) less ``FIAT_SELL_SPREAD``, firm for ``FIAT_QUOTE_TTL_SECONDS``
(default 15). ``sell_execute``: executes a quote once (Idempotency-Key, OTP, KYC-level limit
``FIAT_SELL_LIMITS``) in ONE ledger entry of kind ``sell``, reference ``sell:<sell id>``, whose
request carries currency, amount, fiat, fiat_amount and price (the tax records read them).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from approvals.models import PriceQuote
from chains.models import Currency
from core.amounts import parse_amount
from core.customer_otp import customer_otp_verify
from core.errors import DomainError
from core.transitions import locked
from fiat.models import FIAT_CURRENCIES, Quote, Sell
from fiat.services.common import idempotent, kyc_limit, setting
from ledger.fiat import ledger_sell

CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.00000001")


def quote_create(*, customer, sell_currency: str, sell_amount: str, fiat: str) -> Quote:
    """A firm quote; ``price_unavailable`` (no fresh price), ``validation_error``, amount codes."""
    if not customer.may_withdraw:
        raise DomainError("kyc_required", "KYC must be approved before selling.")
    fiat = str(fiat or "").upper()
    if fiat not in FIAT_CURRENCIES:
        raise DomainError("validation_error", f"fiat must be one of {', '.join(FIAT_CURRENCIES)}.", field="fiat")
    code = str(sell_currency or "").upper()
    currency = Currency.objects.filter(code=code).exclude(code__in=FIAT_CURRENCIES).first()
    if currency is None:
        raise DomainError("unknown_currency", f"No crypto currency {sell_currency!r}.", field="sell_currency")
    amount = parse_amount(sell_amount, field="sell_amount", max_decimals=currency.decimals)
    row = PriceQuote.objects.filter(currency=currency, quote=fiat).first()
    max_age = timedelta(seconds=float(setting("FIAT_QUOTE_PRICE_MAX_AGE_SECONDS", 3600)))
    if row is None or row.updated_at < timezone.now() - max_age:
        raise DomainError("price_unavailable", f"No fresh {code}/{fiat} price; try again later.", field="sell_currency")
    spread = Decimal(str(setting("FIAT_SELL_SPREAD", "0.01")))
    price = (row.price * (1 - spread)).quantize(PRICE_PLACES, rounding=ROUND_DOWN)
    fiat_amount = (amount * price).quantize(CENT, rounding=ROUND_DOWN)
    if fiat_amount <= 0:
        raise DomainError("amount_not_positive", "The amount is worth less than one cent.", field="sell_amount")
    ttl = timedelta(seconds=float(setting("FIAT_QUOTE_TTL_SECONDS", 15)))
    return Quote.objects.create(customer=customer, sell_currency=code, sell_amount=amount, fiat=fiat,
                                table_price=row.price, spread=spread, price=price, fiat_amount=fiat_amount,
                                expires_at=timezone.now() + ttl)


def _daily_sold(customer, fiat: str) -> Decimal:
    from django.db.models import Sum

    since = timezone.now() - timedelta(days=1)
    total = Sell.objects.filter(customer=customer, fiat=fiat, created_at__gte=since).aggregate(t=Sum("fiat_amount"))
    return total["t"] or Decimal(0)


def sell_execute(*, customer, idempotency_key: str, quote_id, otp: str) -> tuple[Sell, bool]:
    """Execute the customer's quote once. Refusals change nothing: ``quote_expired``,
    ``quote_used``, ``not_found``, ``invalid_otp``, ``daily_limit_exceeded``, ``insufficient_balance``."""

    def create() -> Sell:
        try:
            pk = int(quote_id)
        except (TypeError, ValueError):
            raise DomainError("validation_error", "quote_id must be an integer.", field="quote_id") from None
        if not Quote.objects.filter(pk=pk, customer=customer).exists():
            raise DomainError("not_found", "No such quote.", field="quote_id")
        quote = locked(Quote, pk)  # two executions of one quote queue here; the second sees it used
        if quote.used_at is not None:
            raise DomainError("quote_used", "This quote was already executed.", field="quote_id")
        now = timezone.now()
        if quote.expires_at <= now:
            raise DomainError("quote_expired", "The quote is no longer firm; ask for a new one.", field="quote_id")
        if not customer.may_withdraw:
            raise DomainError("kyc_required", "KYC must be approved before selling.")
        customer_otp_verify(customer=customer, code=otp)
        limit = kyc_limit("FIAT_SELL_DAILY_LIMITS", customer, quote.fiat)
        if _daily_sold(customer, quote.fiat) + quote.fiat_amount > limit:
            raise DomainError("daily_limit_exceeded", f"Sells are limited to {limit} {quote.fiat} a day at KYC "
                                                      f"level {customer.kyc_level}.", field="quote_id")
        sell = Sell.objects.create(customer=customer, quote=quote, currency=quote.sell_currency,
                                   amount=quote.sell_amount, fiat=quote.fiat, fiat_amount=quote.fiat_amount,
                                   price=quote.price)
        entry, split = ledger_sell(customer=customer, currency=sell.currency, amount=sell.amount, fiat=sell.fiat,
                                   fiat_amount=sell.fiat_amount, price=sell.price, reference=f"sell:{sell.pk}",
                                   extra={"sell": sell.pk, "quote": quote.pk})
        sell.split = [line.as_dict() for line in split]
        sell.entry_id = entry.pk
        sell.save(update_fields=["split", "entry_id"])
        quote.used_at = now
        quote.save(update_fields=["used_at"])
        return sell

    return idempotent(customer=customer, scope="sell", key=idempotency_key, body={"quote_id": str(quote_id)},
                      create=create, load=lambda pk: Sell.objects.get(pk=pk))
