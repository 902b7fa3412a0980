"""Celery tasks of the send pipeline: thin, named, take ids, call chains.pipeline."""

from celery import shared_task


@shared_task(name="chains.withdrawal_send", acks_late=True)
def withdrawal_send(order_id: int) -> None:
    """Reserve the fee, sign once, store, broadcast one approved order (see chains.pipeline)."""
    from chains.pipeline import pipeline_send

    pipeline_send(order_id=order_id)
