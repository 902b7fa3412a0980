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
    try:
        amount = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise DomainError("invalid_amount", field=field)
    if amount <= 0:
        raise DomainError("amount_not_positive", field=field)
    if max_decimals is not None and decimal_places(amount) > max_decimals:
        raise DomainError("amount_precision", f"At most {max_decimals} decimals.", field=field)
    return amount


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_amount(value: Decimal | None) -> str | None:
    """Canonical string: no exponent, no trailing zeros ("0.0005", "12")."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text
