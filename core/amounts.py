"""Exact amounts at the edges: strict parsing of the App's decimal strings, canonical output."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.errors import DomainError

# Matched with fullmatch: "$" would also match before a trailing newline ("1.5\n").
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_SIGNED_DECIMAL = re.compile(r"-[0-9]+(\.[0-9]+)?")


def parse_amount(value, *, field: str = "amount", max_decimals: int | None = None) -> Decimal:
    """A positive amount from a plain decimal string ("0.015"): no floats, exponents or signs.

    Refuses rather than rounds: more decimals than ``max_decimals`` is ``amount_precision``.
    """
    if not isinstance(value, str) or not value:
        raise DomainError("invalid_amount", "The amount must be a decimal string such as \"0.015\".", field=field)
    if _SIGNED_DECIMAL.fullmatch(value):
        raise DomainError("amount_not_positive", field=field)
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise DomainError("invalid_amount", "The amount must be a decimal string such as \"0.015\".", field=field)
    # Places are counted on the string as typed: Decimal arithmetic (normalize() included) rounds
    # to the context's 28 digits, so "0.24999999999999999999999999999" would count as 0.25.
    if max_decimals is not None and typed_decimal_places(value) > max_decimals:
        raise DomainError("amount_precision", f"At most {max_decimals} decimals.", field=field)
    try:
        amount = Decimal(value)  # exact: construction from a string never rounds
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise DomainError("invalid_amount", field=field)
    if amount <= 0:
        raise DomainError("amount_not_positive", field=field)
    return amount


def typed_decimal_places(text: str) -> int:
    """Decimal places of a plain decimal string, trailing zeros not counted ("1.50" has 1)."""
    _, _, fraction = text.partition(".")
    return len(fraction.rstrip("0"))


def decimal_places(value: Decimal) -> int:
    """Places of a Decimal, exactly (no context rounding: ``normalize()`` would round to 28 digits)."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        return 0
    digits = list(digits)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    if exponent < 0 and digits == [0]:
        return 0
    return max(0, -exponent)


def format_amount(value: Decimal | None) -> str | None:
    """Canonical string: no exponent, no trailing zeros ("0.0005", "12")."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text
