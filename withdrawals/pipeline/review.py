"""Orders in ``review_required``: a transaction may be out but the chain has not decided.

Only the chain ends such an order (SPEC.md, "Withdrawal order"): one of its own transactions
found again (→ confirming) or confirmed at the coin's depth (→ completed); the nonce (EVM) or an
input (BTC) consumed at depth by a transaction that is not the order's (→ failed, the hold
released); or two staff through ``atm.va.withdraw_resolve``, whose decision ``withdrawal_resolve``
checks against the chain before it is applied.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction

from chains.adapters import TxStatus, adapter_for
from chains.adapters.evm.adapter import to_units
from chains.models import Network
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.services.moves import withdrawal_locked
from withdrawals.services.sending import withdrawal_fail, withdrawal_mark_sent, withdrawal_record_status

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status
OUTCOMES = ("failed", "completed")


def transfer_ok(order: WithdrawalOrder, candidates: list[WithdrawalTransaction], status: TxStatus) -> bool | None:
    """For a token coin: whether the included transaction's receipt carries the token's Transfer
    from the hot address to the destination for exactly the amount (None: the chain cannot tell,
    or a native coin, whose value moves with the transaction itself)."""
    coin = order.coin
    if not coin.contract_address or status.state != TxStatus.INCLUDED or status.token_transfers is None:
        return None
    sender = next((tx.sender for tx in candidates if tx.tx_hash == status.tx_hash),
                  candidates[0].sender if candidates else "")
    return bool(status.moved(token=coin.contract_address, sender=sender, to=order.destination,
                             units=to_units(order.amount, coin.decimals)))


def _paying(order, candidates, status: TxStatus | None) -> bool:
    """Included and, as far as the chain can tell, it moved the money."""
    return (status is not None and status.state == TxStatus.INCLUDED
            and transfer_ok(order, candidates, status) is not False)


def consumed_elsewhere(adapter, order: WithdrawalOrder, candidates: list[WithdrawalTransaction]) -> str:
    """Why none of ``candidates`` can ever be mined, per the chain at the coin's depth ("" when it
    does not show that). EVM: the hot address's nonce count ``confirmations - 1`` blocks below the
    head is past the candidates' nonce. BTC: every candidate has an input spent by a transaction
    that is not the order's, confirmed at depth. TRON: "" (an expired one is rebuilt, never failed
    here; staff resolve the rest)."""
    if not candidates:
        return ""
    depth = max(1, order.coin.confirmations)
    kind = order.coin.network.kind
    if kind == Network.Kind.EVM:
        nonces = {tx.nonce for tx in candidates}
        senders = {tx.sender for tx in candidates}
        if None in nonces or len(senders) != 1:
            return ""
        at = adapter.block_number() - depth + 1
        if at < 0:
            return ""
        (sender,) = senders
        count = adapter.confirmed_nonce(sender, block=at)
        if all(count > nonce for nonce in nonces):
            return (f"nonce {min(nonces)} of {sender} was consumed by a transaction that is not this order's "
                    f"(confirmed {depth} deep at block {at})")
        return ""
    if kind == Network.Kind.UTXO:
        ours = {tx.tx_hash for tx in candidates}
        proofs = []
        for tx in candidates:
            proof = ""
            for spent in tx.meta.get("inputs") or []:
                spender = adapter.input_spender(spent["txid"], int(spent["vout"]))
                if (spender is not None and spender.tx_hash not in ours and spender.state == TxStatus.INCLUDED
                        and spender.confirmations >= depth):
                    proof = (f"input {spent['txid']}:{spent['vout']} spent by {spender.tx_hash} "
                             f"({spender.confirmations} deep)")
                    break
            if not proof:
                return ""
            proofs.append(proof)
        return f"{'; '.join(dict.fromkeys(proofs))}, a transaction that is not this order's"
    return ""


def review_sweep_order(adapter, order: WithdrawalOrder, candidates: list[WithdrawalTransaction],
                       statuses: dict[str, TxStatus]) -> str:
    """The sweep's move for one review_required order; returns what it did ("" nothing)."""
    own = [statuses[tx.tx_hash] for tx in candidates if tx.tx_hash in statuses]
    depth = order.coin.confirmations
    paying = sorted((s for s in own if _paying(order, candidates, s)), key=lambda s: -s.confirmations)
    if paying:
        best = paying[0]
        if best.confirmations >= depth:
            withdrawal_record_status(order=order.pk, status=best,
                                     reason=f"{best.tx_hash} confirmed {best.confirmations} deep: credited")
            return "completed"
        withdrawal_mark_sent(order=order.pk, tx_hash=best.tx_hash)  # → confirming, then followed as ever
        return "found"
    pending = next((s for s in own if s.state == TxStatus.PENDING), None)
    if pending is not None:
        withdrawal_mark_sent(order=order.pk, tx_hash=pending.tx_hash)
        return "found"
    reverted = next((s for s in own if s.state == TxStatus.REVERTED and s.confirmations >= depth), None)
    if reverted is not None:
        withdrawal_fail(order=order.pk, fee_paid=reverted.fee_paid,
                        reason=f"Reverted on chain in block {reverted.block_number} ({reverted.tx_hash})")
        return "failed"
    if own and all(s.state == TxStatus.NOT_FOUND for s in own):
        why = consumed_elsewhere(adapter, order, candidates)
        if why:
            withdrawal_fail(order=order.pk, reason=f"The chain decided: {why}")
            return "failed"
    return ""


# --- the two-person decision, checked against the chain ---------------------------------------------

def withdrawal_resolve(*, order: WithdrawalOrder | int, outcome: str, actor, reason: str) -> WithdrawalOrder:
    """Apply a staff resolution (``atm.va.withdraw_resolve`` approved) of a review_required order,
    once the chain agrees. ``failed`` (release the hold) is refused while any candidate is known to
    the node or included as a payment; ``completed`` is refused unless one of its candidates is
    included at the coin's depth (and, for a token, moved the token). Refusals change nothing."""
    if outcome not in OUTCOMES:
        raise DomainError("validation_error", "The outcome is failed or completed.", field="outcome")
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status != Status.REVIEW_REQUIRED:
            raise DomainError("invalid_transition", f"A {order.get_status_display().lower()} withdrawal "
                                                    f"is not waiting for a resolution.")
        candidates = list(WithdrawalTransaction.objects.filter(order=order).order_by("id"))
        statuses = adapter_for(order.coin.network).tx_statuses([tx.tx_hash for tx in candidates]) if candidates \
            else {}
        depth = order.coin.confirmations
        if outcome == "completed":
            paid = sorted((s for s in statuses.values() if _paying(order, candidates, s) and s.confirmations >= depth),
                          key=lambda s: -s.confirmations)
            if not paid:
                raise DomainError("resolution_refused", "None of the order's transactions is included at depth: "
                                                        "it cannot be completed.")
            return withdrawal_record_status(order=order, status=paid[0], actor=actor, reason=reason)
        fee_paid: Decimal | None = None
        for tx_hash, status in statuses.items():
            if status.state == TxStatus.PENDING:
                raise DomainError("resolution_refused", f"{tx_hash} is known to the node: it may still be mined.")
            if _paying(order, candidates, status):
                raise DomainError("resolution_refused", f"{tx_hash} is included in block {status.block_number}.")
            if status.state in (TxStatus.INCLUDED, TxStatus.REVERTED):  # mined without moving the money
                if status.confirmations < depth:
                    raise DomainError("resolution_refused", f"{tx_hash} is only {status.confirmations} deep.")
                fee_paid = status.fee_paid
        return withdrawal_fail(order=order, reason=reason, fee_paid=fee_paid, actor=actor)
