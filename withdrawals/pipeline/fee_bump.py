"""Stuck transactions: staff replace one with the same transaction paying a higher fee."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from chains.adapters import PermanentChainError, TransientChainError, adapter_for, coin_config
from chains.hot_wallets import HotKeyMissing, hot_key
from chains.services import coin_chain_problem, sending_paused_reason
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.pipeline.delays import stuck_after
from withdrawals.pipeline.kinds import SigningRefused, kind_sending, live_candidate
from withdrawals.pipeline.send import candidate_broadcast
from withdrawals.services.moves import withdrawal_locked
from withdrawals.services.sending import withdrawal_raise_fee_reserve, withdrawal_store_signed

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status


def withdrawal_stuck_since(order: WithdrawalOrder) -> WithdrawalTransaction | None:
    """The newest live candidate of an order sent but not included for PIPELINE_STUCK_AFTER_SECONDS,
    or None when the order is not stuck."""
    if order.status not in (Status.BROADCASTING, Status.CONFIRMING) or order.confirmations:
        return None
    newest = live_candidate(order.pk)
    if newest is None or newest.created_at > timezone.now() - stuck_after():
        return None
    return newest


@sensitive_variables("key")
def withdrawal_fee_bump(*, order: WithdrawalOrder | int, actor, reason: str) -> WithdrawalTransaction:
    """Replace a stuck transaction with the same one paying a higher fee (EVM: same nonce; BTC:
    RBF, same inputs). Staff only (admin action "Bump fee"). Every candidate stays on the order;
    the sweep follows all live ones and whichever is mined settles the order, once.

    The fee reserve is raised to the new transaction's maximum first; if the main account cannot
    cover it, the bump is refused (``insufficient_main_account_fees``) and the order keeps waiting
    on its current transaction. Returns the new candidate, broadcast already (a refusal by the
    node marks only the new candidate failed: the old one stays live).
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "A fee bump needs a reason.", field="reason")
    order_id = order.pk if isinstance(order, WithdrawalOrder) else order
    with transaction.atomic():
        order = withdrawal_locked(order_id)
        network = order.coin.network
        strategy = kind_sending(network)
        if not strategy.fee_bumps:
            raise DomainError("invalid_transition", f"Transactions on {network.code} have no fee to bump "
                                                    "(an expired one is rebuilt by the pipeline by itself).")
        if order.status not in (Status.BROADCASTING, Status.CONFIRMING) or order.confirmations:
            raise DomainError("invalid_transition", "Only a transaction not yet in a block can be bumped (the "
                                                    f"withdrawal is {order.get_status_display().lower()}, "
                                                    f"{order.confirmations} confirmations).")
        stuck = withdrawal_stuck_since(order)
        if stuck is None:
            raise DomainError("invalid_transition", f"The transaction is not stuck: wait "
                                                    f"{int(stuck_after().total_seconds())} s after signing.")
        paused = sending_paused_reason(network)
        if paused:
            raise DomainError("invalid_transition", paused)
        adapter = adapter_for(network)
        fee_bump = stuck.fee_bump + 1
        try:
            problem = coin_chain_problem(coin=order.coin, adapter=adapter)  # chain id, token decimals
            if problem:
                raise SigningRefused(problem)
            key = hot_key(network.code)
            signed = strategy.sign(order=order, adapter=adapter, coin=coin_config(order.coin), key=key,
                                   sender=stuck.sender, replaces=stuck, fee_bump=fee_bump)
        except (HotKeyMissing, SigningRefused, TransientChainError, PermanentChainError, ValueError) as error:
            detail = error.detail if isinstance(error, SigningRefused) else str(error)
            raise DomainError("invalid_transition", f"Cannot bump the fee: {detail}") from None
        if signed.max_fee > order.fee_reserved:
            withdrawal_raise_fee_reserve(order=order, amount=signed.max_fee)
        candidate = withdrawal_store_signed(
            order=order, signed=signed, fee_bump=fee_bump, actor=actor,
            reason=f"Fee bump #{fee_bump}: {stuck.tx_hash} replaced by {signed.tx_hash} "
                   f"(max fee {stuck.max_fee} → {signed.max_fee}): {reason}")
        strategy.stored(order=order, candidate=candidate, signed=signed)
    logger.info("order %s: fee bump #%s by %s, %s → %s", order.pk, fee_bump, actor, stuck.tx_hash, candidate.tx_hash)
    candidate_broadcast(order, candidate, raise_transient=False)
    candidate.refresh_from_db()
    return candidate
