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
from ledger.services import ledger_fee_book, ledger_fee_release, ledger_fee_reserve, ledger_release, ledger_settle
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.services.moves import withdrawal_held_split, withdrawal_locked, withdrawal_note

Status = WithdrawalOrder.Status
TxState = WithdrawalTransaction.State
INSUFFICIENT_FEES = "Insufficient main account fees"
LIVE = (TxState.SIGNED, TxState.SENT)


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
            transition_apply(order, "wait_for_fee", actor=None, reason=INSUFFICIENT_FEES, fields=("last_error",))
            return order
        order.fee_reserved = amount
        order.save(update_fields=["fee_reserved", "updated_at"])
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
        if order.status == Status.BROADCASTING:
            order.last_error = ""
            transition_apply(order, "accepted_by_node", actor=None, reason=f"Accepted by the node: {tx_hash}",
                  fields=("last_error",))
    return order


def withdrawal_record_status(*, order: WithdrawalOrder | int, status: TxStatus) -> WithdrawalOrder:
    """What the sweep saw of one candidate: confirmations so far, completion at the coin's depth."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status != Status.CONFIRMING or status.state != TxStatus.INCLUDED:
            return order  # a reverted or vanished transaction never completes an order
        order.tx_hash = status.tx_hash
        order.confirmations = status.confirmations
        order.block_number = status.block_number
        order.block_hash = status.block_hash or ""
        fields = ("tx_hash", "confirmations", "block_number", "block_hash")
        if status.confirmations < order.coin.confirmations:
            order.save(update_fields=(*fields, "updated_at"))
            return order
        _settle(order, status)
        transition_apply(order, "complete", actor=None, reason=f"{status.confirmations} confirmations: credited",
              fields=(*fields, "fee_paid", "fee_reserved", "completed_at"))
    return order


def withdrawal_record_confirmations(*, statuses: dict[int, TxStatus]) -> int:
    """The sweep's progress below the required depth, for many orders in one UPDATE: tx hash,
    confirmations and block of each confirming order. No state moves (those go one by one through
    withdrawal_record_status / _fail / _rebroadcast); orders no longer confirming are left alone.
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


def _settle(order: WithdrawalOrder, status: TxStatus) -> None:
    tenant = order.customer.tenant
    ledger_settle(customer=order.customer, currency=order.coin.currency.code, split=withdrawal_held_split(order),
                  customer_fee=order.customer_fee, reference=f"withdrawal:{order.pk}:settle")
    actual = status.fee_paid if status.fee_paid is not None else order.fee_reserved
    ledger_fee_book(tenant=tenant, currency=order.coin.fee_currency.code, reserved=order.fee_reserved,
                    actual=actual, reference=f"withdrawal:{order.pk}:fee-book")
    order.fee_paid = actual
    order.fee_reserved = Decimal("0")
    order.completed_at = timezone.now()
    _candidates_move(order, "confirm", reason=f"{status.confirmations} confirmations", tx_hash=status.tx_hash)
    _candidates_move(order, "replace", reason=f"{status.tx_hash} confirmed instead", except_hash=status.tx_hash)
    _candidates_changed(order)


def _candidates_changed(order: WithdrawalOrder) -> None:
    """Kind-specific bookkeeping once candidates are confirmed, replaced or failed: the BTC hot
    wallet's UTXOs (spent, released, change available or dropped). Nothing for other kinds."""
    if order.coin.network.kind == "utxo":
        from withdrawals.pipeline.utxos import utxo_candidates_settle

        utxo_candidates_settle(order=order)


def withdrawal_fail(*, order: WithdrawalOrder | int, reason: str, fee_paid: Decimal | None = None
                    ) -> WithdrawalOrder:
    """Permanent failure: principal released; the fee actually spent (a reverted tx) is booked."""
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
        transition_apply(order, "fail", actor=None, reason=reason,
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
    """A node refused one candidate for good. With another candidate still live the order goes on
    (only this one is marked failed, and only if no node ever accepted it: one that was accepted
    may still be mined somewhere, so the sweep keeps asking about it); without one, the order
    fails (withdrawal_fail)."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
            return order
        others = (WithdrawalTransaction.objects.filter(order=order, state__in=(TxState.SIGNED, TxState.SENT))
                  .exclude(tx_hash=tx_hash))
        if not others.exists():
            return withdrawal_fail(order=order, reason=reason)
        _candidates_move(order, "fail", reason=reason, states=(TxState.SIGNED,), tx_hash=tx_hash)
        _candidates_changed(order)
        order.last_error = f"{tx_hash}: {reason}"[:2000]
        order.save(update_fields=["last_error", "updated_at"])
    return order


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
