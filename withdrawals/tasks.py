"""Celery tasks of the send pipeline: thin, named, take ids, call withdrawals.pipeline.

All are ``acks_late`` (settings: a message is acknowledged after the task ran, and given back
if the worker dies) and idempotent: running one twice, or two at once, changes nothing more
than running it once. Only TransientChainError is retried (backoff, bounded); when retries
run out, the beat tasks pick the order up again (approved: ``chains.requeue_approved``;
broadcasting: ``chains.sweep_confirmations`` re-sends the stored transaction).

Beat (data migration chains.0005, editable in the admin under Periodic tasks):
``chains.sweep_confirmations`` every 5 s, ``chains.requeue_approved`` every 30 s; chains.0007:
``chains.utxo_sync`` every 60 s; withdrawals.0006: ``withdrawals.reconcile_hot_wallets`` every 10 minutes.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from chains.adapters import TransientChainError

SEND_MAX_RETRIES = 8  # with backoff 2, 4, 8 ... 120 s (jittered): about five minutes in all


@shared_task(name="chains.withdrawal_send", acks_late=True, autoretry_for=(TransientChainError,),
             retry_backoff=2, retry_backoff_max=120, retry_jitter=True, max_retries=SEND_MAX_RETRIES)
def withdrawal_send(order_id: int) -> dict:
    """Reserve the fee, sign once, store, broadcast one approved order (see withdrawals.pipeline)."""
    from withdrawals.pipeline.send import pipeline_send

    result = pipeline_send(order_id=order_id)
    return {"order": order_id, "outcome": result.outcome, "detail": result.detail}


@shared_task(name="chains.sweep_confirmations", acks_late=True)
def sweep_confirmations(network_code: str | None = None, batch_size: int = 500,
                        stale_after: float | None = None) -> dict:
    """Follow broadcasting and confirming orders (see withdrawals.pipeline.sweep.pipeline_sweep).

    Not retried: a node problem leaves everything as it was, and beat runs it again in 5 s.
    ``stale_after`` (seconds) overrides PIPELINE_REBROADCAST_AFTER_SECONDS.
    """
    from withdrawals.pipeline.sweep import pipeline_sweep

    report = pipeline_sweep(network_code=network_code, batch_size=batch_size,
                            stale_after=None if stale_after is None else timedelta(seconds=stale_after))
    return report.as_dict()


@shared_task(name="chains.requeue_approved", acks_late=True)
def requeue_approved(network_code: str | None = None, older_than: float | None = None) -> list[int]:
    """Start ``chains.withdrawal_send`` again for approved orders left waiting (see
    withdrawals.pipeline.send.pipeline_requeue_approved). ``older_than`` in seconds."""
    from withdrawals.pipeline.send import pipeline_requeue_approved

    return pipeline_requeue_approved(network_code=network_code,
                                     older_than=None if older_than is None else timedelta(seconds=older_than))


@shared_task(name="chains.utxo_sync", acks_late=True)
def utxo_sync(network_code: str | None = None) -> dict:
    """Reconcile the BTC hot wallets' tracked UTXOs with their nodes (see withdrawals.pipeline.utxos). Signing
    syncs too; this keeps the database current between withdrawals (deposits to the hot wallet)."""
    from withdrawals.pipeline.utxos import utxo_sync_hot_wallets

    return utxo_sync_hot_wallets(network_code=network_code)


@shared_task(name="withdrawals.reconcile_hot_wallets", acks_late=True)
def reconcile_hot_wallets(network_code: str | None = None) -> list[dict]:
    """Hot wallets' chain balances against the console's expectation (withdrawals.services.reconciliation);
    beat every 10 minutes (migration withdrawals.0006). Not retried: an unreadable node is reported
    and the next run tries again."""
    from withdrawals.services.reconciliation import reconciliation_run

    return [check.as_dict() for check in reconciliation_run(network_code=network_code)]


@shared_task(name="chains.withdrawal_fee_bump")
def fee_bump(order_id: int, actor_id: int, reason: str, replaces: str = "") -> dict:
    """A fee bump staff asked for in the admin, signed here in the worker (never in the web
    request). Bumps only ``replaces`` (the stuck transaction when it was queued): run twice, it
    bumps once. See withdrawals.pipeline.staff."""
    from withdrawals.pipeline.staff import pipeline_fee_bump_run

    return pipeline_fee_bump_run(order_id=order_id, actor_id=actor_id, reason=reason, replaces=replaces)


@shared_task(name="chains.withdrawal_rebroadcast", acks_late=True)
def rebroadcast(order_id: int, actor_id: int, reason: str) -> dict:
    """Re-send an order's stored transactions, byte for byte (idempotent: a node that has one says
    "already known"). See withdrawals.pipeline.staff."""
    from withdrawals.pipeline.staff import pipeline_rebroadcast_run

    return pipeline_rebroadcast_run(order_id=order_id, actor_id=actor_id, reason=reason)
