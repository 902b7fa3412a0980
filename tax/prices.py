"""Prices as history: the value of a coin in USD or HKD at any past moment.

``approvals.PriceQuote`` holds the current price and is overwritten in place; every insert,
update and delete of it is recorded by its pghistory triggers (``core.history.config_history``)
as an ``approvals.PriceQuoteEvent`` row stamped with the time of its transaction. Those rows are
the snapshots: a trigger records every change, however it was made (admin, service, shell, raw
SQL), so there is no second write path to forget. The price at ``t`` is the last snapshot at or
before ``t``; none, a deleted quote, or one older than ``PRICE_QUOTE_MAX_AGE`` at ``t`` is an
unknown price (None), which the tax records flag and never turn into zero.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from approvals.prices import price_max_age


class PriceHistory:
    """Snapshots per (currency, quote), searched by time; built once per report (a few rows per
    price change, loaded in one query), then answered in memory."""

    def __init__(self, snapshots: Iterable[tuple[str, str, datetime, Decimal | None]], *,
                 max_age: timedelta | None = None):
        series: dict[tuple[str, str], list[tuple[datetime, Decimal | None]]] = {}
        for currency, quote, at, price in snapshots:
            series.setdefault((currency, quote), []).append((at, price))
        self._times: dict[tuple[str, str], list[datetime]] = {}
        self._prices: dict[tuple[str, str], list[Decimal | None]] = {}
        for key, rows in series.items():
            rows.sort(key=lambda row: row[0])
            self._times[key] = [at for at, _ in rows]
            self._prices[key] = [price for _, price in rows]
        self.max_age = max_age

    def price_at(self, currency: str, quote: str, at: datetime) -> Decimal | None:
        times = self._times.get((currency, quote))
        if not times:
            return None
        index = bisect_right(times, at) - 1
        if index < 0:
            return None
        if self.max_age is not None and at - times[index] > self.max_age:
            return None
        return self._prices[(currency, quote)][index]


def price_history(*, currencies: Iterable[str], quote: str) -> PriceHistory:
    """Every recorded price of ``currencies`` in ``quote``, oldest first (deletes as None)."""
    from approvals.models import PriceQuote

    events = PriceQuote.pgh_event_model.objects.filter(currency__code__in=list(currencies), quote=quote)
    rows = events.order_by("pgh_created_at", "pgh_id").values_list(
        "currency__code", "quote", "pgh_created_at", "price", "pgh_label")
    return PriceHistory(((code, q, at, None if label == "delete" else price) for code, q, at, price, label in rows),
                        max_age=price_max_age())


def price_at(*, currency: str, quote: str, at: datetime) -> Decimal | None:
    """One lookup (the admin, tests); reports use ``price_history`` once."""
    return price_history(currencies=[currency], quote=quote).price_at(currency, quote, at)
