"""Sending: an approved order's one transaction signed, stored, committed, then broadcast."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from chains.adapters import ChainAdapter, PermanentChainError, TransientChainError, TxStatus, adapter_for, coin_config
from chains.hot_wallets import HotKeyMissing, hot_key
from chains.models import SendingSwitch
from chains.services import coin_chain_problem, sending_paused_reason
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.delays import requeue_after
from withdrawals.pipeline.faults import fault_point
from withdrawals.pipeline.kinds import SigningRefused, kind_sending, live_candidate, sender_address, signed_transaction
from withdrawals.services.moves import withdrawal_locked
from withdrawals.services.sending import (
    withdrawal_candidate_expired,
    withdrawal_candidate_refused,
    withdrawal_mark_sent,
    withdrawal_note_error,
    withdrawal_raise_fee_reserve,
    withdrawal_reserve_fee,
    withdrawal_store_signed,
    withdrawal_to_review,
)

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status


@dataclass
class SendResult:
    outcome: str  # busy | done | paused | awaiting_fee | refused | sent | failed | review
    detail: str = ""


def pipeline_send(*, order_id: int) -> SendResult:
    """Take one approved (or broadcasting) order as far as the node accepting its transaction.

    Raises TransientChainError (node unreachable, refused for now) with the order unchanged but
    for ``last_error``: the task retries with backoff.
    """
    try:
        result = _sign_and_store(order_id)
    except TransientChainError as error:
        withdrawal_note_error(order=order_id, error=f"Node problem before sending, will retry: {error}")
        raise
    except SigningRefused as refusal:
        # Signing refused (no key, the transfer would revert): everything rolled back, the order
        # stays approved with the reason shown; the requeue task tries again, staff may reject it.
        withdrawal_note_error(order=order_id, error=refusal.detail)
        logger.warning("order %s: %s", order_id, refusal.detail)
        return SendResult("refused", refusal.detail)
    if result is not None:
        return result
    fault_point("after_sign")
    candidate = live_candidate(order_id)
    if candidate is None:  # failed or replaced in the meantime
        return SendResult("done")
    order = WithdrawalOrder.objects.select_related("coin__network").get(pk=order_id)
    if order.status != Status.BROADCASTING:
        return SendResult("done", order.status)
    return candidate_broadcast(order, candidate, raise_transient=True)


@sensitive_variables("key")
def _sign_and_store(order_id: int) -> SendResult | None:
    """One transaction: claim, switches, fee, nonce, sign, store. None: a candidate is stored and
    committed, go and broadcast it."""
    with transaction.atomic():
        order = withdrawal_locked(order_id, skip_locked=True)
        if order is None:
            exists = WithdrawalOrder.objects.filter(pk=order_id).exists()
            return SendResult("busy" if exists else "done", "claimed by another worker" if exists else "no such order")
        if order.status not in (Status.APPROVED, Status.BROADCASTING):
            return SendResult("done", order.status)
        network = order.coin.network
        paused = sending_paused_reason(network)
        if paused:
            return SendResult("paused", paused)
        if live_candidate(order.pk) is not None:
            return None  # stored before: re-send that one, never sign again
        if order.status != Status.APPROVED:
            logger.error("order %s is %s without a live transaction; left for staff", order.pk, order.status)
            return SendResult("done", "no live transaction")

        problem = sending_mismatch(order)
        if problem:  # what would be signed is not what was approved: nothing is signed
            withdrawal_to_review(order=order, reason=f"Not signed: {problem}")
            logger.warning("order %s not signed: %s", order.pk, problem)
            return SendResult("review", problem)

        adapter = adapter_for(network)
        coin = coin_config(order.coin)
        order = withdrawal_reserve_fee(order=order, amount=adapter.estimate_fee(coin))
        if order.status == Status.AWAITING_FEE:
            return SendResult("awaiting_fee", order.last_error)
        problem = coin_chain_problem(coin=order.coin, adapter=adapter)  # chain id, token decimals
        if problem:
            raise SigningRefused(f"Cannot sign: {problem}")
        try:
            key = hot_key(network.code)
        except HotKeyMissing as error:
            raise SigningRefused(f"Cannot sign: {error}") from None
        sender = sender_address(network, key)
        strategy = kind_sending(network)
        try:
            signed = strategy.sign(order=order, adapter=adapter, coin=coin, key=key, sender=sender)
        except (PermanentChainError, ValueError) as error:
            raise SigningRefused(f"Cannot sign: {error}") from None
        if signed.max_fee > order.fee_reserved:  # reserve what this very transaction may spend
            order = withdrawal_reserve_fee(order=order, amount=signed.max_fee)
            if order.status == Status.AWAITING_FEE:
                return SendResult("awaiting_fee", order.last_error)  # the signature is dropped unsent
        candidate = withdrawal_store_signed(order=order, signed=signed)
        strategy.stored(order=order, candidate=candidate, signed=signed)
        fault_point("in_sign_transaction")
    return None


def sending_mismatch(order: WithdrawalOrder) -> str:
    """Why ``order`` must not be signed now ("" when it may): the destination is still a verified,
    unrevoked address of the customer, screening still clean, and amount, destination, network and
    currency equal what the approved work order's context says (SPEC: "What is sent is what was
    approved")."""
    from approvals.models import WorkOrder, WorkOrderType
    from approvals.screening import ALERT, REJECT, screen
    from withdrawals.models import CustomerAddress

    coin = order.coin
    address = CustomerAddress.objects.filter(pk=order.address_id).values_list("status", "address").first()
    if address is None or address[0] != CustomerAddress.Status.VERIFIED:
        return f"the destination address is {address[0] if address else 'gone'}, no longer verified"
    if address[1] != order.destination:
        return "the destination address no longer matches the order's"
    # By the content type's natural key, not ContentType's per-process id cache (a long-lived
    # worker may hold ids of a database that was since re-created).
    work_order = (WorkOrder.objects.filter(content_type__app_label=order._meta.app_label,
                                           content_type__model=order._meta.model_name, object_id=order.pk,
                                           type=WorkOrderType.COIN_WITHDRAW_APPLY)
                  .order_by("-created_at", "-id").first())
    if work_order is None or work_order.status != WorkOrder.Status.APPROVED:
        return "no approved work order"
    approved = work_order.context or {}
    expected = {"amount": order.amount, "destination": order.destination, "network": coin.network.code,
                "currency": coin.currency.code}
    for key, value in expected.items():
        seen = approved.get(key)
        try:
            same = Decimal(seen) == value if key == "amount" else seen == value
        except (TypeError, ArithmeticError):
            same = False
        if not same:
            return f"the order's {key} ({value}) is not the approved one ({seen}) of WO{work_order.pk}"
    result = screen(coin.network.code, order.destination)
    if result.outcome == REJECT or (result.outcome == ALERT and approved.get("screening") != ALERT):
        return f"screening now says {result.outcome}: {result.reason}"
    return ""


def candidate_broadcast(order: WithdrawalOrder, candidate: WithdrawalTransaction, *, raise_transient: bool,
               may_rebuild: bool = True) -> SendResult:
    """Send the stored transaction; accepted → confirming; refused for good → that candidate
    fails, and the order with it unless another candidate is still live."""
    rows = WithdrawalTransaction.objects.filter(pk=candidate.pk)
    # Until the node answers, the outcome is unknown (a worker killed mid-call leaves it so): the
    # flag goes back only on a clear refusal of a candidate that was not uncertain before.
    uncertain_before = rows.values_list("broadcast_uncertain", flat=True).get()
    rows.update(send_attempts=F("send_attempts") + 1, broadcast_uncertain=True)
    network = order.coin.network
    adapter = adapter_for(network)
    try:
        tx_hash = adapter.broadcast(signed_transaction(candidate))
    except TransientChainError as error:
        rows.update(broadcast_uncertain=True)  # a timeout may have delivered it: it may be out
        withdrawal_note_error(order=order.pk, error=f"Broadcast of {candidate.tx_hash} will be retried: {error}")
        if raise_transient:
            raise
        return SendResult("retry", str(error))
    except PermanentChainError as error:
        if not uncertain_before:
            rows.update(broadcast_uncertain=False)  # a clear answer: this attempt did not get it out
        if may_rebuild and kind_sending(network).may_resign(error):
            return _rebuild_expired(order, candidate, adapter, reason=str(error), raise_transient=raise_transient)
        order = withdrawal_candidate_refused(order=order.pk, tx_hash=candidate.tx_hash,
                                             reason=f"Rejected by the node: {error}")
        if order.status == Status.REVIEW_REQUIRED:
            return SendResult("review", str(error))
        return SendResult("failed", str(error))
    fault_point("after_send")
    withdrawal_mark_sent(order=order.pk, tx_hash=tx_hash)
    return SendResult("sent", tx_hash)


@sensitive_variables("key")
def _rebuild_expired(order: WithdrawalOrder, expired: WithdrawalTransaction, adapter: ChainAdapter, *,
                     reason: str, raise_transient: bool) -> SendResult:
    """The stored transaction expired unsent (TRON): it can never land, so, and only so, a new one
    is built and signed. Both stay on the order: the old one failed, the new one live."""
    if adapter.tx_statuses([expired.tx_hash])[expired.tx_hash].state != TxStatus.NOT_FOUND:
        return SendResult("retry", f"{expired.tx_hash} expired but the node knows it")  # the sweep follows it
    try:
        with transaction.atomic():
            order = withdrawal_locked(order)
            if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
                return SendResult("done", order.status)
            if not withdrawal_candidate_expired(order=order, tx_hash=expired.tx_hash):
                return SendResult("done", "handled elsewhere")
            network = order.coin.network
            key = hot_key(network.code)
            strategy = kind_sending(network)
            signed = strategy.sign(order=order, adapter=adapter, coin=coin_config(order.coin), key=key,
                                   sender=sender_address(network, key))
            if signed.max_fee > order.fee_reserved:
                withdrawal_raise_fee_reserve(order=order, amount=signed.max_fee)
            candidate = withdrawal_store_signed(order=order, signed=signed,
                                                reason=f"{expired.tx_hash} expired unsent ({reason}): rebuilt as "
                                                       f"{signed.tx_hash}")
            strategy.stored(order=order, candidate=candidate, signed=signed)
    except (HotKeyMissing, DomainError, PermanentChainError) as error:  # nothing changed; tried again later
        withdrawal_note_error(order=order.pk, error=f"Rebuilding expired {expired.tx_hash} failed: {error}")
        return SendResult("retry", str(error))
    except TransientChainError as error:
        withdrawal_note_error(order=order.pk, error=f"Rebuilding expired {expired.tx_hash}: {error}")
        if raise_transient:
            raise
        return SendResult("retry", str(error))
    logger.info("order %s: expired %s rebuilt as %s", order.pk, expired.tx_hash, candidate.tx_hash)
    return candidate_broadcast(order, candidate, raise_transient=raise_transient, may_rebuild=False)



# --- requeue ------------------------------------------------------------------------------------

def pipeline_requeue_approved(*, network_code: str | None = None, older_than: timedelta | None = None,
                              limit: int = 1000) -> list[int]:
    """Start the send task again for approved orders untouched for ``older_than`` on networks
    where sending is on. Returns the order ids enqueued."""
    if SendingSwitch.objects.filter(pk=1, sending_paused=True).exists():
        return []
    cutoff = timezone.now() - (requeue_after() if older_than is None else older_than)
    orders = WithdrawalOrder.objects.filter(status=Status.APPROVED, updated_at__lte=cutoff,
                                            coin__network__sending_paused=False)
    if network_code:
        orders = orders.filter(coin__network__code=network_code)
    ids = list(orders.order_by("id").values_list("id", flat=True)[:limit])
    from withdrawals.tasks import withdrawal_send

    for order_id in ids:
        withdrawal_send.delay(order_id)
    return ids
