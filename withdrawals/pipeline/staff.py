"""What staff start from the admin on a sent order, run by a worker: the web request only checks
and queues, it never holds a hot key (issue 12: "keys stay in the worker").

``withdrawal_fee_bump_queue`` / ``withdrawal_rebroadcast_queue`` (web: check, queue on commit) and
``pipeline_fee_bump_run`` / ``pipeline_rebroadcast_run`` (worker: the tasks
``chains.withdrawal_fee_bump`` and ``chains.withdrawal_rebroadcast`` call them).
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction

from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.delays import stuck_after
from withdrawals.pipeline.fee_bump import withdrawal_fee_bump, withdrawal_stuck_since
from withdrawals.pipeline.kinds import LIVE_TX_STATES, kind_sending, live_candidate
from withdrawals.pipeline.send import candidate_broadcast
from withdrawals.services.sending import withdrawal_note_error

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", f"A {what} needs a reason.", field="reason")
    return reason


def withdrawal_fee_bump_queue(*, order: WithdrawalOrder, actor, reason: str) -> str:
    """Check that ``order`` may get a fee bump and queue it for a worker (on commit). Returns the
    tx hash of the stuck transaction the bump will replace; the worker bumps only that one, so a
    task delivered twice bumps once."""
    reason = _reason(reason, "fee bump")
    with transaction.atomic():
        order = WithdrawalOrder.objects.select_related("coin__network").get(pk=order.pk)
        network = order.coin.network
        if not kind_sending(network).fee_bumps:
            raise DomainError("invalid_transition", f"Transactions on {network.code} have no fee to bump.")
        stuck = withdrawal_stuck_since(order)
        if stuck is None:
            raise DomainError("invalid_transition", "Only a transaction sent but not in a block for "
                                                    f"{int(stuck_after().total_seconds())} s can be bumped.")
        from withdrawals.tasks import fee_bump

        order_id, actor_id, replaces = order.pk, actor.pk, stuck.tx_hash
        transaction.on_commit(lambda: fee_bump.delay(order_id, actor_id, reason, replaces))
    logger.info("order %s: fee bump of %s queued by %s", order.pk, stuck.tx_hash, actor)
    return stuck.tx_hash


def pipeline_fee_bump_run(*, order_id: int, actor_id: int, reason: str, replaces: str = "") -> dict:
    """The worker's half of a queued fee bump. A refusal is shown on the order (``last_error``)."""
    actor = get_user_model().objects.get(pk=actor_id)
    newest = live_candidate(order_id)
    if replaces and (newest is None or newest.tx_hash != replaces):
        return {"order": order_id, "outcome": "skipped", "detail": f"{replaces} is no longer the newest live one"}
    try:
        candidate = withdrawal_fee_bump(order=order_id, actor=actor, reason=reason)
    except DomainError as error:
        withdrawal_note_error(order=order_id, error=f"Fee bump requested by {actor} refused: {error.detail}")
        return {"order": order_id, "outcome": "refused", "detail": error.detail}
    return {"order": order_id, "outcome": candidate.state, "tx_hash": candidate.tx_hash}


def withdrawal_rebroadcast_queue(*, order: WithdrawalOrder, actor, reason: str) -> None:
    """Queue a re-send of the order's stored transactions, byte for byte (nothing is signed): the
    tool for a dropped transaction that holds later nonces back (``selectors.nonce_gaps``)."""
    reason = _reason(reason, "rebroadcast")
    with transaction.atomic():
        order = WithdrawalOrder.objects.get(pk=order.pk)
        if order.status not in (Status.BROADCASTING, Status.CONFIRMING) or live_candidate(order.pk) is None:
            raise DomainError("invalid_transition", "Only an order with a sent transaction not yet final can be "
                                                    f"rebroadcast (the withdrawal is {order.get_status_display()}).")
        from withdrawals.tasks import rebroadcast

        order_id, actor_id = order.pk, actor.pk
        transaction.on_commit(lambda: rebroadcast.delay(order_id, actor_id, reason))
    logger.info("order %s: rebroadcast queued by %s: %s", order.pk, actor, reason)


def pipeline_rebroadcast_run(*, order_id: int, actor_id: int, reason: str) -> dict:
    """Send each live stored transaction of the order again, oldest first (the lowest nonce)."""
    actor = get_user_model().objects.get(pk=actor_id)
    order = WithdrawalOrder.objects.select_related("coin__network").get(pk=order_id)
    if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
        return {"order": order_id, "outcome": "done", "detail": order.status}
    outcomes = {}
    for candidate in WithdrawalTransaction.objects.filter(order_id=order_id, state__in=LIVE_TX_STATES).order_by("id"):
        outcomes[candidate.tx_hash] = candidate_broadcast(order, candidate, raise_transient=False).outcome
    logger.info("order %s: rebroadcast by %s (%s): %s", order_id, actor, reason, outcomes)
    return {"order": order_id, "outcome": "sent", "candidates": outcomes}
