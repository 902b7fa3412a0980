"""Celery tasks of the chains app: named, idempotent, id-based."""

from __future__ import annotations

from celery import shared_task

from chains.selectors import coins_open_for_withdrawal
from chains.services import coin_refresh_fee_estimate


@shared_task(name="chains.refresh_fee_estimates", ignore_result=True)
def refresh_fee_estimates() -> int:
    """Refresh the network fee estimate of every enabled coin (beat: every 60 s).

    A coin whose node fails keeps its previous estimate. Running twice at once is harmless:
    the last answer wins. Returns how many estimates were stored.
    """
    stored = 0
    for coin in coins_open_for_withdrawal():
        before = coin.network_fee_estimated_at
        coin_refresh_fee_estimate(coin=coin, timeout=20)
        stored += coin.network_fee_estimated_at != before
    return stored
