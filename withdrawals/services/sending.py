"""The moves of an approved withdrawal on its way to the chain (SPEC.md, "Withdrawal order").

The pipeline in ``withdrawals.pipeline`` talks to the node and calls these; each is one transaction
on the locked order with its audit row and its ledger posting. They are safe to call twice:
a move already made is a no-op, so a task retried after a crash cannot double-book.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from chains.adapters import SignedTransaction, TxStatus
from core.errors import DomainError
from core.transitions import transition_apply, transition_apply_all
from ledger.services import (
    FeeBooking,
    Settlement,
    ledger_fee_book,
    ledger_fee_book_batch,
    ledger_fee_release,
    ledger_fee_reserve,
    ledger_release,
    ledger_settle_batch,
)
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.faults import fault_point
from withdrawals.services.moves import withdrawal_held_split, withdrawal_locked, withdrawal_locked_all, withdrawal_note

Status = WithdrawalOrder.Status
TxState = WithdrawalTransaction.State
INSUFFICIENT_FEES = "Insufficient main account fees"
LIVE = (TxState.SIGNED, TxState.SENT)
BLOCK_FIELDS = ("tx_hash", "confirmations", "block_number", "block_hash")  # where the chain has it


def _candidates_move(order: WithdrawalOrder, transition: str, *, reason: str, states=LIVE,
                     tx_hash: str | None = None, except_hash: str | None = None) -> int:
    """Move the order's candidates in ``states`` (one, all, or all but one) through the recipe."""
    rows = WithdrawalTransaction.objects.select_for_update().filter(order=order, state__in=states)
    if tx_hash is not None:
        rows = rows.filter(tx_hash=tx_hash)
    if except_hash is not None:
        rows = rows.exclude(tx_hash=except_hash)
    return transition_apply_all(list(rows.order_by("id")), transition, actor=None, reason=reason)


def withdrawal_reserve_fee(*, order: WithdrawalOrder | int, amount: Decimal) -> WithdrawalOrder:
    """Reserve the network fee on the tenant's main account, or park the order in awaiting_fee."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status != Status.APPROVED or order.fee_reserved >= amount:
            return order
        extra = amount - order.fee_reserved
        try:
            with transaction.atomic():
                ledger_fee_reserve(tenant=order.customer.tenant, currency=order.coin.fee_currency.code,
                                   amount=extra, reference=f"withdrawal:{order.pk}:fee-reserve:{amount}")
        except DomainError as error:
            if error.code != "insufficient_main_account_fees":
                raise
            order.last_error = INSUFFICIENT_FEES
            order.fee_wanted = amount  # the cover counts it at this fee, not at a later (lower) estimate
            transition_apply(order, "wait_for_fee", actor=None, fields=("last_error", "fee_wanted"),
                             reason=f"{INSUFFICIENT_FEES}: {amount} {order.coin.fee_currency.code} not reserved")
            return order
        order.fee_reserved = amount
        order.fee_wanted = 0
        order.save(update_fields=["fee_reserved", "fee_wanted", "updated_at"])
    return order


def withdrawal_store_signed(*, order: WithdrawalOrder | int, signed: SignedTransaction,
                            fee_bump: int = 0, actor=None, reason: str = "") -> WithdrawalTransaction:
    """Keep the signed transaction *before* it is sent; approved → broadcasting.

    A fee bump, or the rebuild of an expired TRON transaction, adds another candidate to an order
    already broadcasting or confirming; ``reason`` (and ``actor``) then go into the order's history
    as a row that keeps the status.
    """
    with transaction.atomic():
        order = withdrawal_locked(order)
        tx = WithdrawalTransaction.objects.create(
            order=order, tx_hash=signed.tx_hash, raw=signed.raw, sender=signed.sender, nonce=signed.nonce,
            max_fee=signed.max_fee, fee_bump=fee_bump, meta=signed.meta)
        order.tx_hash = signed.tx_hash
        if order.status == Status.APPROVED:
            transition_apply(order, "start_broadcast", actor=None, reason=f"Signed {signed.tx_hash}",
                                  fields=("tx_hash",))
        elif order.status in (Status.BROADCASTING, Status.CONFIRMING):
            order.save(update_fields=["tx_hash", "updated_at"])
            withdrawal_note(order, actor=actor, reason=reason or f"New candidate {signed.tx_hash}")
        else:
            raise DomainError("invalid_transition", f"A {order.status} withdrawal takes no new transaction.")
    return tx


def withdrawal_mark_sent(*, order: WithdrawalOrder | int, tx_hash: str) -> WithdrawalOrder:
    """The node accepted the transaction: broadcasting → confirming."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        _candidates_move(order, "accept", reason="Accepted by the node", states=(TxState.SIGNED,), tx_hash=tx_hash)
        WithdrawalTransaction.objects.filter(order=order, tx_hash=tx_hash, ever_accepted=False).update(
            ever_accepted=True)
        if order.status == Status.BROADCASTING:
            order.last_error = ""
            transition_apply(order, "accepted_by_node", actor=None, reason=f"Accepted by the node: {tx_hash}",
                  fields=("last_error",))
        elif order.status == Status.REVIEW_REQUIRED:  # one of its own is back: the chain decides again
            order.last_error = ""
            transition_apply(order, "review_found", actor=None, reason=f"Found on the node again: {tx_hash}",
                             fields=("last_error",))
    return order


def withdrawal_record_status(*, order: WithdrawalOrder | int, status: TxStatus, actor=None,
                             reason: str = "") -> WithdrawalOrder:
    """What the sweep saw of one candidate: confirmations so far, completion at the coin's depth.
    An order in review_required completes the same way (one of its own confirmed at depth); below
    the depth it goes back to confirming first. The sweep settles its completions together
    (``withdrawal_complete_batch``); both settle through the same steps."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if status.state != TxStatus.INCLUDED or order.status not in (Status.CONFIRMING, Status.REVIEW_REQUIRED):
            return order  # a reverted or vanished transaction never completes an order
        if order.status == Status.REVIEW_REQUIRED and status.confirmations < order.coin.confirmations:
            transition_apply(order, "review_found", actor=actor, reason=reason or f"{status.tx_hash} included")
        _seen_in_block(order, status)
        if status.confirmations < order.coin.confirmations:
            order.save(update_fields=(*BLOCK_FIELDS, "updated_at"))
            return order
        _settle_all([(order, status)], actor=actor, reason=reason)
    return order


def withdrawal_complete_batch(*, completions: dict[int, TxStatus]) -> list[WithdrawalOrder]:
    """The sweep's completions of one batch (order id → its candidate included at the coin's
    depth), settled in one transaction: the orders locked in id order, all their settlements
    posted in one ``ledger_settle_batch`` and all their fees in one ``ledger_fee_book_batch``,
    then per order what ``withdrawal_record_status`` does at depth (candidates, UTXOs, the
    ``complete`` move with its audit row and tasks on commit). An order no longer confirming, or
    whose status is not a completion at its depth, is left as it is (re-checked under the lock).
    All or nothing: one refusal (a posting, a move) rolls back the whole batch and is raised; the
    caller may then settle the orders one by one. Returns the orders completed, in id order."""
    if not completions:
        return []
    with transaction.atomic():
        done = []
        for order in withdrawal_locked_all(sorted(completions)):
            status = completions[order.pk]
            if (order.status != Status.CONFIRMING or status.state != TxStatus.INCLUDED
                    or status.confirmations < order.coin.confirmations):
                continue  # moved since the sweep read it: the next sweep looks again
            _seen_in_block(order, status)
            done.append((order, status))
        _settle_all(done, actor=None, reason="")
    return [order for order, _status in done]


def _seen_in_block(order: WithdrawalOrder, status: TxStatus) -> None:
    order.tx_hash = status.tx_hash
    order.confirmations = status.confirmations
    order.block_number = status.block_number
    order.block_hash = status.block_hash or ""


def withdrawal_record_confirmations(*, statuses: dict[int, TxStatus]) -> int:
    """The sweep's progress below the required depth, for many orders in one UPDATE: tx hash,
    confirmations and block of each confirming order. No state moves (those go through
    withdrawal_complete_batch / _record_status / _fail / _rebroadcast); orders no longer confirming
    are left alone.
    Returns how many rows changed."""
    if not statuses:
        return 0
    rows = [(order_id, s.tx_hash, s.confirmations, s.block_number, s.block_hash or "")
            for order_id, s in statuses.items()]
    values = ", ".join(["(%s::bigint, %s::varchar, %s::integer, %s::bigint, %s::varchar)"] * len(rows))
    table = WithdrawalOrder._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS o SET tx_hash = v.tx_hash, confirmations = v.confirmations, "
            f"block_number = v.block_number, block_hash = v.block_hash, updated_at = %s "
            f"FROM (VALUES {values}) AS v(id, tx_hash, confirmations, block_number, block_hash) "
            f"WHERE o.id = v.id AND o.status = %s",
            [timezone.now(), *[x for row in rows for x in row], Status.CONFIRMING])
        return cursor.rowcount


def _settle_all(completions: list[tuple[WithdrawalOrder, TxStatus]], *, actor, reason: str) -> None:
    """Complete locked orders whose candidate is included at depth, inside the caller's
    transaction: every settlement in one ledger call and every fee booking in another (each
    replayed per reference, so what was already posted is not posted twice), then per order the
    candidates (the included one confirmed, the others replaced), the UTXOs, and the ``complete``
    move with its audit row."""
    if not completions:
        return
    ledger_settle_batch(settlements=[
        Settlement(customer=order.customer, currency=order.coin.currency.code, split=withdrawal_held_split(order),
                   customer_fee=order.customer_fee, reference=f"withdrawal:{order.pk}:settle")
        for order, _status in completions])
    paid = [status.fee_paid if status.fee_paid is not None else order.fee_reserved for order, status in completions]
    ledger_fee_book_batch(bookings=[
        FeeBooking(tenant=order.customer.tenant, currency=order.coin.fee_currency.code, reserved=order.fee_reserved,
                   actual=actual, reference=f"withdrawal:{order.pk}:fee-book")
        for (order, _status), actual in zip(completions, paid, strict=True)])
    for (order, status), actual in zip(completions, paid, strict=True):
        order.fee_paid = actual
        order.fee_reserved = Decimal("0")
        order.completed_at = timezone.now()
        _candidates_move(order, "confirm", reason=f"{status.confirmations} confirmations", tx_hash=status.tx_hash)
        _candidates_move(order, "replace", reason=f"{status.tx_hash} confirmed instead", except_hash=status.tx_hash)
        _candidates_changed(order)
        transition_apply(order, "complete", actor=actor,
                         reason=reason or f"{status.confirmations} confirmations: credited",
                         fields=(*BLOCK_FIELDS, "fee_paid", "fee_reserved", "completed_at"))
    fault_point("in_settlement")  # everything of the settlement written, nothing committed


def _candidates_changed(order: WithdrawalOrder) -> None:
    """Kind-specific bookkeeping once candidates are confirmed, replaced or failed: the BTC hot
    wallet's UTXOs (spent, released, change available or dropped). Nothing for other kinds."""
    if order.coin.network.kind == "utxo":
        from withdrawals.pipeline.utxos import utxo_candidates_settle

        utxo_candidates_settle(order=order)


def withdrawal_fail(*, order: WithdrawalOrder | int, reason: str, fee_paid: Decimal | None = None,
                    actor=None) -> WithdrawalOrder:
    """Permanent failure: principal released; the fee actually spent (a reverted tx) is booked.

    Callers decide that nothing of the order can still be mined: no node ever had it, it reverted
    at depth, the chain consumed its nonce / input elsewhere at depth, or two staff decided it
    against the chain (``withdrawal_resolve``)."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status == Status.FAILED:
            return order
        tenant, fee_currency = order.customer.tenant, order.coin.fee_currency.code
        ledger_release(customer=order.customer, currency=order.coin.currency.code, split=withdrawal_held_split(order),
                       reference=f"withdrawal:{order.pk}:release")
        if fee_paid:
            ledger_fee_book(tenant=tenant, currency=fee_currency, reserved=order.fee_reserved, actual=fee_paid,
                            reference=f"withdrawal:{order.pk}:fee-book")
        elif order.fee_reserved:
            ledger_fee_release(tenant=tenant, currency=fee_currency, amount=order.fee_reserved,
                               reference=f"withdrawal:{order.pk}:fee-release:fail")
        order.fee_paid = fee_paid
        order.fee_reserved = Decimal("0")
        order.last_error = reason
        _candidates_move(order, "fail", reason=reason)
        _candidates_changed(order)
        transition_apply(order, "fail", actor=actor, reason=reason,
                         fields=("fee_paid", "fee_reserved", "last_error"))
    return order


def withdrawal_rebroadcast(*, order: WithdrawalOrder | int, reason: str) -> WithdrawalOrder:
    """The transaction left the chain (re-org or dropped): back to broadcasting, same signed tx."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status != Status.CONFIRMING:
            return order
        order.confirmations = 0
        order.block_number = None
        order.block_hash = ""
        _candidates_move(order, "unsend", reason=reason, states=(TxState.SENT,))
        transition_apply(order, "start_broadcast", actor=None, reason=reason,
              fields=("confirmations", "block_number", "block_hash"))
    return order


def withdrawal_note_error(*, order: WithdrawalOrder | int, error: str) -> None:
    """A transient problem (node unreachable): shown on the order, state unchanged."""
    WithdrawalOrder.objects.filter(pk=order.pk if isinstance(order, WithdrawalOrder) else order).update(
        last_error=error[:2000], updated_at=timezone.now())


def withdrawal_raise_fee_reserve(*, order: WithdrawalOrder | int, amount: Decimal) -> WithdrawalOrder:
    """Raise the fee reserved for an order already on its way (a fee bump, a rebuilt transaction)
    to ``amount``. Refused with ``insufficient_main_account_fees`` when the main account cannot
    cover the difference: the order keeps its state and its current transaction."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
            raise DomainError("invalid_transition", f"A {order.status} withdrawal has no fee reserve to raise.")
        if order.fee_reserved >= amount:
            return order
        try:
            ledger_fee_reserve(tenant=order.customer.tenant, currency=order.coin.fee_currency.code,
                               amount=amount - order.fee_reserved,
                               reference=f"withdrawal:{order.pk}:fee-reserve:{amount}")
        except DomainError as error:
            if error.code != "insufficient_main_account_fees":
                raise
            raise DomainError("insufficient_main_account_fees",
                              f"{INSUFFICIENT_FEES}: the main account cannot cover {amount - order.fee_reserved} "
                              f"{order.coin.fee_currency.code} more; top it up, then try again.") from None
        order.fee_reserved = amount
        order.save(update_fields=["fee_reserved", "updated_at"])
    return order


def withdrawal_candidate_refused(*, order: WithdrawalOrder | int, tx_hash: str, reason: str) -> WithdrawalOrder:
    """A node refused one candidate for good.

    A candidate that a node accepted once, or whose broadcast outcome is unknown, may still be
    mined from another node's mempool: it stays live, and when no other live candidate is left
    the order goes to ``review_required`` (hold intact) instead of failing. Only a candidate no
    node ever had is marked failed; when none of the order's candidates may be out the order fails
    (withdrawal_fail: nothing can be mined)."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
            return order
        live = list(WithdrawalTransaction.objects.filter(order=order, state__in=LIVE))
        refused = next((tx for tx in live if tx.tx_hash == tx_hash), None)
        others = [tx for tx in live if tx.tx_hash != tx_hash]
        if refused is not None and not refused.may_be_out:
            _candidates_move(order, "fail", reason=reason, states=(TxState.SIGNED,), tx_hash=tx_hash)
            _candidates_changed(order)
        if others:
            order.last_error = f"{tx_hash}: {reason}"[:2000]
            order.save(update_fields=["last_error", "updated_at"])
            return order
        if any(tx.may_be_out for tx in live):
            return withdrawal_to_review(order=order, reason=f"{tx_hash} may be out (a node had it) but was refused: "
                                                            f"{reason}")
        return withdrawal_fail(order=order, reason=reason)


def withdrawal_to_review(*, order: WithdrawalOrder | int, reason: str, actor=None) -> WithdrawalOrder:
    """The chain has not decided (a transaction that may be out was refused or vanished, a token
    transfer moved nothing) or what would be signed no longer matches what was approved:
    → review_required. Nothing is released; the hold and the fee reserve stay."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status == Status.REVIEW_REQUIRED:
            return order
        order.last_error = reason[:2000]
        transition_apply(order, "to_review", actor=actor, reason=reason[:2000], fields=("last_error",))
    return order


def withdrawal_candidates_seen(*, tx_hashes: list[str]) -> int:
    """The sweep found these candidates on the node (mempool or block): they may be out from now
    on, whatever happens next. Data only, no state moves; how many rows changed."""
    if not tx_hashes:
        return 0
    return WithdrawalTransaction.objects.filter(tx_hash__in=tx_hashes, ever_accepted=False).update(ever_accepted=True)


def withdrawal_candidate_expired(*, order: WithdrawalOrder | int, tx_hash: str) -> bool:
    """A stored transaction expired without being included (TRON): it can never land, so it is
    marked failed; the caller stores its rebuilt replacement in the same transaction. Returns
    False when the candidate is no longer live (someone else handled it)."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        updated = _candidates_move(order, "fail", reason="Expired without being included", tx_hash=tx_hash)
        if updated:
            _candidates_changed(order)
    return bool(updated)
