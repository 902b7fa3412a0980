"""Request fields that take a currency code; the schema lists the codes the server knows
(``chains.api_docs.enumerate_currencies`` fills the ``enum`` when the schema is generated)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from core.api_fields import StrictCharField

# Which codes a field's ``enum`` lists: read from the database by the schema hook.
CODES_KEY = "x-currency-codes"
WITH_A_COIN = "with_a_coin"  # currencies that have a coin on some network (what a withdrawal takes)
ANY = "any"  # every configured currency


def _schema(codes: str) -> dict:
    return {"type": "string", "maxLength": 12, CODES_KEY: codes}


@extend_schema_field(_schema(WITH_A_COIN))
class CoinCurrencyField(StrictCharField):
    """A currency code (exact, case-sensitive) of a currency that has a coin; in the schema an
    enum of those codes. The service refuses any other (``unknown_coin``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 12)
        super().__init__(**kwargs)


@extend_schema_field(_schema(ANY))
class CurrencyCodeField(StrictCharField):
    """A currency code (exact, case-sensitive) of a configured currency; in the schema an enum
    of them. The service refuses any other (``unknown_currency``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 12)
        super().__init__(**kwargs)
