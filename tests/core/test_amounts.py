"""Amounts exactly as typed (SPEC "Vocabulary": more decimals than the coin allows is an error,
not rounded): places are counted on the string, never after the decimal context rounded it."""

from decimal import Decimal

import pytest

from core.amounts import decimal_places, parse_amount, typed_decimal_places
from core.errors import DomainError


@pytest.mark.parametrize("typed", [
    "0.24999999999999999999999999999",  # 29 places: Decimal.normalize() rounds it to 0.25
    "0.250000000000000000000000000001",
    "1.000000001",
])
def test_more_places_than_the_coin_allows_is_refused_not_rounded(typed):
    with pytest.raises(DomainError) as refused:
        parse_amount(typed, max_decimals=8)
    assert refused.value.code == "amount_precision"


def test_an_amount_is_kept_exactly_as_typed():
    typed = "0.24999999999999999999999999999"
    assert parse_amount(typed) == Decimal(typed) != Decimal("0.25")
    assert str(parse_amount(typed)) == typed
    assert parse_amount("0.25000000", max_decimals=8) == Decimal("0.25")  # trailing zeros are no places


@pytest.mark.parametrize(("typed", "places"), [
    ("1", 0), ("1.50", 1), ("0.0000", 0), ("0.24999999999999999999999999999", 29)])
def test_places_are_counted_on_the_string(typed, places):
    assert typed_decimal_places(typed) == places
    assert decimal_places(Decimal(typed)) == places  # and on a Decimal, without context rounding
