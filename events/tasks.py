"""Celery tasks of the outbox: thin, named, take ids.

``events.dispatch`` (on commit of an event) fans it out; ``events.deliver`` makes one attempt of a
delivery (its retries are scheduled by the delivery itself, see events/delivery.py);
``events.sweep_outbox`` (beat, every 10 s: data migration events.0002) re-dispatches events left
in the outbox and re-queues due deliveries whose message was lost or whose worker died.
"""

from __future__ import annotations

from celery import shared_task


# No result is stored: nobody waits for one, and a task with a result makes the sender
# subscribe to its result channel in Redis on every call (a round trip per event on the App path).
@shared_task(name="events.dispatch", acks_late=True, ignore_result=True)
def dispatch(event_ids: list[str]) -> int:
    from events.services import events_dispatch

    return len(events_dispatch(event_ids=event_ids))


@shared_task(name="events.deliver", acks_late=True)
def deliver(delivery_id: int) -> str:
    from events.delivery import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


@shared_task(name="events.sweep_outbox", acks_late=True)
def sweep_outbox() -> dict:
    from events.delivery import outbox_sweep

    return outbox_sweep()
