"""Model fields shared by every app."""

from django.db import models

AMOUNT_DIGITS = 38
AMOUNT_PLACES = 18


def AmountField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """Exact amounts: numeric(38, 18) covers BTC (8), USDT (6) and ETH (18) decimals."""
    return models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, **kwargs)
