"""The sweep: every broadcasting (stale) and confirming order followed until the chain decides."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, connection
from django.db.models import Q
from django.utils import timezone

from chains.adapters import PermanentChainError, TransientChainError, TxStatus, adapter_for
from chains.models import Network
from chains.services import sending_paused_reason
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.delays import rebroadcast_after
from withdrawals.pipeline.faults import fault_point
from withdrawals.pipeline.kinds import LIVE_TX_STATES, TxState
from withdrawals.pipeline.review import review_sweep_order, transfer_ok
from withdrawals.pipeline.send import candidate_broadcast
from withdrawals.services.sending import (
    withdrawal_candidates_seen,
    withdrawal_complete_batch,
    withdrawal_fail,
    withdrawal_mark_sent,
    withdrawal_rebroadcast,
    withdrawal_record_confirmations,
    withdrawal_record_status,
    withdrawal_to_review,
)

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status


@dataclass
class SweepReport:
    orders: int = 0
    batches: int = 0
    progressed: int = 0
    completed: int = 0
    failed: int = 0
    rebroadcast: int = 0
    resent: int = 0
    marked_sent: int = 0
    review: int = 0
    skipped_networks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _lock_key(name: str) -> int:
    return zlib.crc32(f"chains.sweep:{name}".encode())


@contextmanager
def _sweep_lock(network: Network) -> Iterator[bool]:
    """One sweep per network at a time: a session-level advisory lock, released by PostgreSQL
    if the worker dies (its connection closes)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(network.code)])
        (acquired,) = cursor.fetchone()
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(network.code)])


def pipeline_sweep(*, network_code: str | None = None, batch_size: int = 500,
                   stale_after: timedelta | None = None) -> SweepReport:
    """Follow every confirming and review_required order, and every broadcasting one untouched for
    ``stale_after``."""
    report = SweepReport()
    stale_cutoff = timezone.now() - (rebroadcast_after() if stale_after is None else stale_after)
    todo = (Q(status__in=[Status.CONFIRMING, Status.REVIEW_REQUIRED])
            | Q(status=Status.BROADCASTING, updated_at__lte=stale_cutoff))
    networks = Network.objects.filter(pk__in=WithdrawalOrder.objects.filter(todo).values("coin__network"))
    if network_code:
        networks = networks.filter(code=network_code)
    for network in networks:
        with _sweep_lock(network) as acquired:
            if not acquired:
                report.skipped_networks.append(network.code)
                continue
            try:
                _sweep_network(network, todo, batch_size, report)
            except TransientChainError as error:  # the next sweep tries again; nothing changed
                report.errors.append(f"{network.code}: {error}")
                logger.warning("sweep of %s: %s", network.code, error)
    return report


def _sweep_network(network: Network, todo: Q, batch_size: int, report: SweepReport) -> None:
    adapter = adapter_for(network)
    paused = sending_paused_reason(network)
    orders_qs = (WithdrawalOrder.objects.filter(todo, coin__network=network)
                 .select_related("coin__network").order_by("id"))
    last_id = 0
    while True:
        orders = list(orders_qs.filter(id__gt=last_id)[:batch_size])
        if not orders:
            return
        last_id = orders[-1].id
        report.batches += 1
        report.orders += len(orders)
        _sweep_batch(adapter, orders, paused=paused, report=report)


def _sweep_batch(adapter, orders: list[WithdrawalOrder], *, paused: str, report: SweepReport) -> None:
    candidates: dict[int, list[WithdrawalTransaction]] = {}
    for tx in (WithdrawalTransaction.objects.filter(order_id__in=[o.id for o in orders], state__in=LIVE_TX_STATES)
               .order_by("id")):
        candidates.setdefault(tx.order_id, []).append(tx)
    hashes = {o.tx_hash for o in orders if o.tx_hash} | {tx.tx_hash for txs in candidates.values() for tx in txs}
    statuses = adapter.tx_statuses(sorted(hashes))  # one height read, receipts in batches
    # A candidate the node holds (mempool or block) may be out from now on, whatever happens next.
    withdrawal_candidates_seen(tx_hashes=[tx.tx_hash for txs in candidates.values() for tx in txs
                                          if not tx.ever_accepted and tx.tx_hash in statuses
                                          and statuses[tx.tx_hash].state != TxStatus.NOT_FOUND])
    progress: dict[int, TxStatus] = {}
    completions: dict[int, TxStatus] = {}  # settled together once every order was looked at
    wrote = False
    for order in orders:
        own = candidates.get(order.id, [])
        order_hashes = dict.fromkeys([tx.tx_hash for tx in own] + ([order.tx_hash] if order.tx_hash else []))
        status = _best(statuses[h] for h in order_hashes if h in statuses)
        try:
            if order.status == Status.REVIEW_REQUIRED:
                changed = _sweep_review(adapter, order, own, statuses, report)
            else:
                changed = _sweep_order(order, status, own, paused=paused, progress=progress,
                                       completions=completions, report=report)
        except (DomainError, PermanentChainError) as error:
            report.errors.append(f"W{order.pk}: {error}")
            logger.exception("sweep: order %s", order.pk)
            continue
        if (not changed and order.status != Status.REVIEW_REQUIRED and status is not None
                and status.state == TxStatus.PENDING and len(own) > 1
                and own[-1].state == TxState.SIGNED and own[-1].tx_hash in statuses
                and statuses[own[-1].tx_hash].state == TxStatus.NOT_FOUND):
            # A fee bump stored but not accepted (its broadcast hit a node problem) while the
            # transaction it replaces waits in the mempool: send the bump again.
            changed = _resend(order, own, paused=paused, report=report)
        if changed and not wrote:
            wrote = True
            fault_point("during_sweep")
    if completions:
        _complete(completions, report)
        if not wrote:
            fault_point("during_sweep")  # the batch's completions committed, the next batch not begun
    if progress:
        report.progressed += withdrawal_record_confirmations(statuses=progress)


def _complete(completions: dict[int, TxStatus], report: SweepReport) -> None:
    """Settle the batch's completions in one transaction; when that is refused (one order's
    posting or move, a constraint), nothing of it was kept: settle them one by one, so the others
    still complete. A lost connection is not a refusal: it is raised, as from any move."""
    try:
        report.completed += len(withdrawal_complete_batch(completions=completions))
        return
    except (DomainError, IntegrityError) as error:
        logger.warning("sweep: the batch of %s completions was refused (%s); settling them one by one",
                       len(completions), error)
    for order_id, status in completions.items():
        try:
            order = withdrawal_record_status(order=order_id, status=status)
        except (DomainError, IntegrityError) as error:
            report.errors.append(f"W{order_id}: {error}")
            logger.exception("sweep: order %s", order_id)
            continue
        if order.status == Status.COMPLETED:
            report.completed += 1


_RANK = {TxStatus.INCLUDED: 3, TxStatus.REVERTED: 3, TxStatus.PENDING: 2, TxStatus.NOT_FOUND: 1}


def _best(statuses) -> TxStatus | None:
    """The most advanced status among an order's candidates (included beats pending beats gone)."""
    best = None
    for status in statuses:
        if best is None or (_RANK[status.state], status.confirmations) > (_RANK[best.state], best.confirmations):
            best = status
    return best


def _sweep_order(order: WithdrawalOrder, status: TxStatus | None, candidates: list[WithdrawalTransaction], *,
                 paused: str, progress: dict[int, TxStatus], completions: dict[int, TxStatus],
                 report: SweepReport) -> bool:
    """Decide and make the move for one order (a completion is only noted in ``completions``, the
    batch settles them together). Returns whether a service wrote something."""
    if status is None:
        return False
    on_chain = status.state in (TxStatus.INCLUDED, TxStatus.REVERTED)
    if status.state == TxStatus.INCLUDED and transfer_ok(order, candidates, status) is False:
        # Succeeded on chain, yet the token did not move as approved: never completed by itself.
        withdrawal_to_review(order=order.pk, reason=f"{status.tx_hash} succeeded in block {status.block_number} "
                                                    f"without the token's Transfer of the amount to the destination")
        report.review += 1
        return True
    if on_chain:
        if (order.status == Status.CONFIRMING and order.confirmations and order.block_hash
                and status.block_hash and status.block_hash.lower() != order.block_hash.lower()):
            return _rebroadcast(order, candidates, f"Re-org: {status.tx_hash} moved from block {order.block_hash} "
                                                   f"to {status.block_hash}", paused=paused, report=report)
        marked = order.status == Status.BROADCASTING
        if marked:
            # The node took it but the worker died before saving so (or the task gave up).
            withdrawal_mark_sent(order=order.pk, tx_hash=status.tx_hash)
            report.marked_sent += 1
        deep = status.confirmations >= order.coin.confirmations
        if status.state == TxStatus.REVERTED and deep:
            withdrawal_fail(order=order.pk, reason=f"Reverted on chain in block {status.block_number} "
                                                   f"({status.tx_hash})", fee_paid=status.fee_paid)
            report.failed += 1
            return True
        if status.state == TxStatus.INCLUDED and deep:
            completions[order.pk] = status
            return marked
        if marked or (status.confirmations, status.block_hash, status.tx_hash) != (
                order.confirmations, order.block_hash or None, order.tx_hash):
            progress[order.pk] = status  # below the depth: counted in one bulk update
        return marked
    if status.state == TxStatus.PENDING:
        if order.status == Status.BROADCASTING:
            withdrawal_mark_sent(order=order.pk, tx_hash=status.tx_hash)
            report.marked_sent += 1
            return True
        if order.confirmations:  # was in a block, back in the mempool: it left the chain
            return _rebroadcast(order, candidates, f"Re-org: {status.tx_hash} left block {order.block_hash}",
                                paused=paused, report=report)
        return False
    # not found
    if order.status == Status.CONFIRMING:
        return _rebroadcast(order, candidates, f"{status.tx_hash} is no longer known to the node",
                            paused=paused, report=report)
    return _resend(order, candidates, paused=paused, report=report)  # a stale broadcasting order


def _sweep_review(adapter, order: WithdrawalOrder, candidates, statuses, report: SweepReport) -> bool:
    done = review_sweep_order(adapter, order, candidates, statuses)
    if done == "completed":
        report.completed += 1
    elif done == "failed":
        report.failed += 1
    elif done == "found":
        report.marked_sent += 1
    return bool(done)


def _rebroadcast(order: WithdrawalOrder, candidates, reason: str, *, paused: str, report: SweepReport) -> bool:
    withdrawal_rebroadcast(order=order.pk, reason=reason)
    report.rebroadcast += 1
    _resend(order, candidates, paused=paused, report=report)
    return True


def _resend(order: WithdrawalOrder, candidates, *, paused: str, report: SweepReport) -> bool:
    """Send the stored transaction again (the same bytes: never a new signature)."""
    if paused or not candidates:
        return False
    candidate = WithdrawalTransaction.objects.filter(pk=candidates[-1].pk, state__in=LIVE_TX_STATES).first()
    if candidate is None:
        return False
    result = candidate_broadcast(order, candidate, raise_transient=False)
    report.resent += 1
    return result.outcome != "retry"
