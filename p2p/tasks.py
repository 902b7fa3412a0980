"""P2P tasks: named, no arguments but ids, call the services."""

from celery import shared_task

from p2p.services import trades_sweep


@shared_task(name="p2p.trades_sweep", acks_late=True)
def p2p_trades_sweep() -> dict:
    """Beat, every minute: expire unpaid trades past their window, appeal paid ones past the
    release window. Each trade is re-read under its lock before anything happens to it."""
    return trades_sweep()
