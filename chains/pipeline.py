"""The send pipeline: approved withdrawals to the chain exactly once, followed to completion.

Services called by the Celery tasks of ``chains.send_tasks`` (docs/PIPELINE.md tells the whole
story). The state moves themselves are ``withdrawals.services.sending``; this module talks to
the node and decides which move to make.

* ``pipeline_send(order_id=...)``: claim the order (row lock, ``SKIP LOCKED``), honour the kill
  switches, reserve the fee, and, if the order has no stored transaction yet, allocate a nonce,
  sign and store it in ONE transaction; only after that commit, broadcast. A retry re-sends the
  stored transaction; nothing is ever signed twice for an order.
* ``pipeline_sweep(...)``: every broadcasting (stale) and confirming order, per network, in
  batches: one ``tx_statuses`` call per batch, then the moves (completed, failed, back to
  broadcasting) one service call each, and the plain confirmation counts in one bulk update.
* ``pipeline_requeue_approved(...)``: approved orders nobody is working on (lost message, kill
  switch lifted, retries exhausted) go back to the send task.

Fault injection for the tests: ``WDC_FAULT=<point>`` makes the process SIGKILL itself every time
it reaches that point (``after_sign``, ``after_send``, ``during_sweep``); ``WDC_FAULT_FILE=<path>``
does it once, at the point named in that file, which is removed first (a restarted worker then
goes on). Both unset in production: ``_fault`` is then two dictionary lookups.
"""

from __future__ import annotations

import logging
import os
import signal
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from chains.adapters import (
    ChainAdapter,
    CoinConfig,
    PermanentChainError,
    SignedTransaction,
    TransientChainError,
    TxStatus,
    adapter_for,
    coin_config,
)
from chains.hot_wallets import HotKeyMissing, hot_key
from chains.models import KillSwitchChange, Network, SendingSwitch
from chains.nonces import nonce_allocate
from core.errors import DomainError
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction
from withdrawals.services.sending import (
    withdrawal_candidate_expired,
    withdrawal_candidate_refused,
    withdrawal_fail,
    withdrawal_mark_sent,
    withdrawal_note_error,
    withdrawal_raise_fee_reserve,
    withdrawal_rebroadcast,
    withdrawal_record_confirmations,
    withdrawal_record_status,
    withdrawal_reserve_fee,
    withdrawal_store_signed,
)

logger = logging.getLogger(__name__)

Status = WithdrawalOrder.Status
TxState = WithdrawalTransaction.State
# Candidates that may still land: the ones the sweep asks the chain about and a retry re-sends.
LIVE_TX_STATES = (TxState.SIGNED, TxState.SENT)


def rebroadcast_after() -> timedelta:
    """A broadcasting order untouched this long is re-sent by the sweep (its task died or gave up)."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_REBROADCAST_AFTER_SECONDS", 60)))


def stuck_after() -> timedelta:
    """A transaction not included this long after it was signed may get a fee bump from staff."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_STUCK_AFTER_SECONDS", 600)))


def requeue_after() -> timedelta:
    """An approved order untouched this long is sent to the send task again."""
    return timedelta(seconds=float(getattr(settings, "PIPELINE_REQUEUE_AFTER_SECONDS", 60)))


# --- test-only fault injection ----------------------------------------------------------------

def _fault(point: str) -> None:
    """Test hook: SIGKILL this process at ``point`` when asked to (see the module docstring)."""
    wanted, flag = os.environ.get("WDC_FAULT"), os.environ.get("WDC_FAULT_FILE")
    if not wanted and not flag:
        return  # production: nothing set
    if wanted != point:
        if not flag:
            return
        try:
            with open(flag) as file:
                if file.read().strip() != point:
                    return
            os.remove(flag)  # once: a restarted worker goes on
        except FileNotFoundError:
            return
    logger.warning("fault injection at %s: killing process %s", point, os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


# --- kill switches ------------------------------------------------------------------------------

def sending_paused_reason(network: Network) -> str:
    """Why nothing may be sent on ``network`` now ("" when sending is on)."""
    if network.sending_paused:
        return f"Sending is paused on {network.code}."
    if SendingSwitch.objects.filter(pk=1, sending_paused=True).exists():
        return "Sending is paused on all networks."
    return ""


def sending_pause_set(*, network: Network | None, paused: bool, actor, reason: str) -> bool:
    """Flip a kill switch (``network=None``: the global one), audited. Returns False when it was
    already so. Resuming starts the send task for the approved orders that waited, on commit."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "Flipping a kill switch needs a reason.", field="reason")
    with transaction.atomic():
        if network is None:
            SendingSwitch.objects.get_or_create(pk=1)
            switch = SendingSwitch.objects.select_for_update().get(pk=1)
            if switch.sending_paused == paused:
                return False
            switch.sending_paused, switch.reason = paused, reason
            switch.changed_by, switch.changed_at = actor, timezone.now()
            switch.save()
        else:
            network = Network.objects.select_for_update().get(pk=network.pk)
            if network.sending_paused == paused:
                return False
            Network.objects.filter(pk=network.pk).update(sending_paused=paused)
        KillSwitchChange.objects.create(network=network, paused=paused, actor=actor, reason=reason)
        if not paused:
            code = network.code if network is not None else None
            transaction.on_commit(lambda: _requeue_task().delay(network_code=code, older_than=0))
    logger.info("kill switch %s %s by %s: %s", network.code if network else "ALL",
                "paused" if paused else "resumed", actor, reason)
    return True


def _requeue_task():
    from chains.send_tasks import requeue_approved

    return requeue_approved


# --- sending ------------------------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass
class SendResult:
    outcome: str  # busy | done | paused | awaiting_fee | refused | sent | failed
    detail: str = ""


def _signed(candidate: WithdrawalTransaction) -> SignedTransaction:
    return SignedTransaction(tx_hash=candidate.tx_hash, raw=candidate.raw, sender=candidate.sender,
                             nonce=candidate.nonce, max_fee=candidate.max_fee, meta=candidate.meta or {})


def _live_candidate(order_id: int) -> WithdrawalTransaction | None:
    """The newest stored transaction of the order that may still land."""
    return (WithdrawalTransaction.objects.filter(order_id=order_id, state__in=LIVE_TX_STATES)
            .order_by("-id").first())


def _sender_address(network: Network, key: bytes) -> str:
    if network.kind == Network.Kind.EVM:
        from chains.adapters.evm import address_from_private_key

        return address_from_private_key(key)
    from chains.hot_wallets import hot_address

    return hot_address(network)


# --- what differs per network kind ----------------------------------------------------------------

class KindSending:
    """How one network kind signs a withdrawal's transaction; the pipeline is otherwise the same.

    ``sign`` runs inside the transaction that stores the result, so whatever it allocates (an EVM
    nonce, BTC inputs) is taken under a lock and committed together with the candidate, or not at
    all. ``replaces`` (a stored candidate) asks for a fee-bumped replacement of it.
    """

    fee_bumps = False  # whether a stuck transaction can be replaced with a higher fee

    def sign(self, *, order: WithdrawalOrder, adapter: ChainAdapter, coin: CoinConfig, key: bytes, sender: str,
             replaces: WithdrawalTransaction | None = None, fee_bump: int = 0) -> SignedTransaction:
        return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount, private_key=key)

    def stored(self, *, order: WithdrawalOrder, candidate: WithdrawalTransaction, signed: SignedTransaction) -> None:
        """Record what the stored candidate took (same transaction)."""

    def may_resign(self, error: PermanentChainError) -> bool:
        """Whether this refusal proves the stored transaction can never land, so that a new
        signature is safe (TRON: expired)."""
        return False


class EvmSending(KindSending):
    fee_bumps = True

    def sign(self, *, order, adapter, coin, key, sender, replaces=None, fee_bump=0):
        if replaces is None:
            nonce = nonce_allocate(network=order.coin.network, address=sender,
                                   node_pending=adapter.pending_nonce(sender))
            return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                          private_key=key, nonce=nonce)
        # Same nonce, higher fees: whichever of the two is mined, the other never can be.
        signed = adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                        private_key=key, nonce=replaces.nonce, fee_bump=fee_bump,
                                        replaces=_signed(replaces), gas_limit=replaces.meta.get("gas"))
        if signed.meta["max_fee_per_gas"] <= replaces.meta.get("max_fee_per_gas", 0):
            raise _Refused("The coin's fee cap leaves no room for a higher fee.")
        return signed


class UtxoSending(KindSending):
    fee_bumps = True

    def sign(self, *, order, adapter, coin, key, sender, replaces=None, fee_bump=0):
        from chains.adapters.utxo import Utxo
        from chains.utxos import utxo_spendable

        network = order.coin.network
        if replaces is None:
            utxos = utxo_spendable(network=network, address=sender, backend=adapter.backend)
            return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                          private_key=key, utxos=utxos)
        # RBF: exactly the same inputs (never others: a replacement spending other outputs would
        # not conflict with the first, and both could be mined), a higher rate.
        inputs = [Utxo.from_dict(i) for i in replaces.meta["inputs"]]
        base = max(Decimal(replaces.meta["base_fee_rate_sat_vb"]), adapter.backend.fee_rate_sat_vb())
        return adapter.build_and_sign(coin=coin, to_address=order.destination, amount=order.amount,
                                      private_key=key, utxos=inputs, fee_rate_sat_vb=base, fee_bump=fee_bump)

    def stored(self, *, order, candidate, signed):
        from chains.utxos import utxo_reserve

        utxo_reserve(candidate=candidate, signed=signed, network=order.coin.network)


class TronSending(KindSending):
    def may_resign(self, error):
        from chains.adapters.tron import TransactionExpired

        return isinstance(error, TransactionExpired)


KIND_SENDING: dict[str, KindSending] = {
    Network.Kind.EVM: EvmSending(), Network.Kind.UTXO: UtxoSending(), Network.Kind.TRON: TronSending()}


def kind_sending(network: Network) -> KindSending:
    return KIND_SENDING[network.kind]


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
    except _Refused as refusal:
        # Signing refused (no key, the transfer would revert): everything rolled back, the order
        # stays approved with the reason shown; the requeue task tries again, staff may reject it.
        withdrawal_note_error(order=order_id, error=refusal.detail)
        logger.warning("order %s: %s", order_id, refusal.detail)
        return SendResult("refused", refusal.detail)
    if result is not None:
        return result
    _fault("after_sign")
    candidate = _live_candidate(order_id)
    if candidate is None:  # failed or replaced in the meantime
        return SendResult("done")
    order = WithdrawalOrder.objects.select_related("coin__network").get(pk=order_id)
    if order.status != Status.BROADCASTING:
        return SendResult("done", order.status)
    return _broadcast(order, candidate, raise_transient=True)


def _sign_and_store(order_id: int) -> SendResult | None:
    """One transaction: claim, switches, fee, nonce, sign, store. None: a candidate is stored and
    committed, go and broadcast it."""
    with transaction.atomic():
        order = (WithdrawalOrder.objects.select_for_update(of=("self",), skip_locked=True)
                 .select_related("coin__currency", "coin__network", "coin__fee_currency", "customer__tenant")
                 .filter(pk=order_id).first())
        if order is None:
            exists = WithdrawalOrder.objects.filter(pk=order_id).exists()
            return SendResult("busy" if exists else "done", "claimed by another worker" if exists else "no such order")
        if order.status not in (Status.APPROVED, Status.BROADCASTING):
            return SendResult("done", order.status)
        network = order.coin.network
        paused = sending_paused_reason(network)
        if paused:
            return SendResult("paused", paused)
        if _live_candidate(order.pk) is not None:
            return None  # stored before: re-send that one, never sign again
        if order.status != Status.APPROVED:
            logger.error("order %s is %s without a live transaction; left for staff", order.pk, order.status)
            return SendResult("done", "no live transaction")

        adapter = adapter_for(network)
        coin = coin_config(order.coin)
        order = withdrawal_reserve_fee(order=order, amount=adapter.estimate_fee(coin))
        if order.status == Status.AWAITING_FEE:
            return SendResult("awaiting_fee", order.last_error)
        try:
            key = hot_key(network.code)
        except HotKeyMissing as error:
            raise _Refused(f"Cannot sign: {error}") from None
        sender = _sender_address(network, key)
        strategy = kind_sending(network)
        try:
            signed = strategy.sign(order=order, adapter=adapter, coin=coin, key=key, sender=sender)
        except (PermanentChainError, ValueError) as error:
            raise _Refused(f"Cannot sign: {error}") from None
        if signed.max_fee > order.fee_reserved:  # reserve what this very transaction may spend
            order = withdrawal_reserve_fee(order=order, amount=signed.max_fee)
            if order.status == Status.AWAITING_FEE:
                return SendResult("awaiting_fee", order.last_error)  # the signature is dropped unsent
        candidate = withdrawal_store_signed(order=order, signed=signed)
        strategy.stored(order=order, candidate=candidate, signed=signed)
    return None


def _broadcast(order: WithdrawalOrder, candidate: WithdrawalTransaction, *, raise_transient: bool,
               may_rebuild: bool = True) -> SendResult:
    """Send the stored transaction; accepted → confirming; refused for good → that candidate
    fails, and the order with it unless another candidate is still live."""
    WithdrawalTransaction.objects.filter(pk=candidate.pk).update(send_attempts=F("send_attempts") + 1)
    network = order.coin.network
    adapter = adapter_for(network)
    try:
        tx_hash = adapter.broadcast(_signed(candidate))
    except TransientChainError as error:
        withdrawal_note_error(order=order.pk, error=f"Broadcast of {candidate.tx_hash} will be retried: {error}")
        if raise_transient:
            raise
        return SendResult("retry", str(error))
    except PermanentChainError as error:
        if may_rebuild and kind_sending(network).may_resign(error):
            return _rebuild_expired(order, candidate, adapter, reason=str(error), raise_transient=raise_transient)
        withdrawal_candidate_refused(order=order.pk, tx_hash=candidate.tx_hash, reason=f"Rejected by the node: {error}")
        return SendResult("failed", str(error))
    _fault("after_send")
    withdrawal_mark_sent(order=order.pk, tx_hash=tx_hash)
    return SendResult("sent", tx_hash)


def _rebuild_expired(order: WithdrawalOrder, expired: WithdrawalTransaction, adapter: ChainAdapter, *,
                     reason: str, raise_transient: bool) -> SendResult:
    """The stored transaction expired unsent (TRON): it can never land, so, and only so, a new one
    is built and signed. Both stay on the order: the old one failed, the new one live."""
    if adapter.tx_statuses([expired.tx_hash])[expired.tx_hash].state != TxStatus.NOT_FOUND:
        return SendResult("retry", f"{expired.tx_hash} expired but the node knows it")  # the sweep follows it
    try:
        with transaction.atomic():
            order = (WithdrawalOrder.objects.select_for_update(of=("self",))
                     .select_related("coin__currency", "coin__network", "coin__fee_currency", "customer__tenant")
                     .get(pk=order.pk))
            if order.status not in (Status.BROADCASTING, Status.CONFIRMING):
                return SendResult("done", order.status)
            if not withdrawal_candidate_expired(order=order, tx_hash=expired.tx_hash):
                return SendResult("done", "handled elsewhere")
            network = order.coin.network
            key = hot_key(network.code)
            strategy = kind_sending(network)
            signed = strategy.sign(order=order, adapter=adapter, coin=coin_config(order.coin), key=key,
                                   sender=_sender_address(network, key))
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
    return _broadcast(order, candidate, raise_transient=raise_transient, may_rebuild=False)


# --- stuck transactions: fee bump ---------------------------------------------------------------

def withdrawal_stuck_since(order: WithdrawalOrder) -> WithdrawalTransaction | None:
    """The newest live candidate of an order sent but not included for PIPELINE_STUCK_AFTER_SECONDS,
    or None when the order is not stuck."""
    if order.status not in (Status.BROADCASTING, Status.CONFIRMING) or order.confirmations:
        return None
    newest = _live_candidate(order.pk)
    if newest is None or newest.created_at > timezone.now() - stuck_after():
        return None
    return newest


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
        order = (WithdrawalOrder.objects.select_for_update(of=("self",))
                 .select_related("coin__currency", "coin__network", "coin__fee_currency", "customer__tenant")
                 .get(pk=order_id))
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
            key = hot_key(network.code)
            signed = strategy.sign(order=order, adapter=adapter, coin=coin_config(order.coin), key=key,
                                   sender=stuck.sender, replaces=stuck, fee_bump=fee_bump)
        except (HotKeyMissing, _Refused, TransientChainError, PermanentChainError, ValueError) as error:
            detail = error.detail if isinstance(error, _Refused) else str(error)
            raise DomainError("invalid_transition", f"Cannot bump the fee: {detail}") from None
        if signed.max_fee > order.fee_reserved:
            withdrawal_raise_fee_reserve(order=order, amount=signed.max_fee)
        candidate = withdrawal_store_signed(
            order=order, signed=signed, fee_bump=fee_bump, actor=actor,
            reason=f"Fee bump #{fee_bump}: {stuck.tx_hash} replaced by {signed.tx_hash} "
                   f"(max fee {stuck.max_fee} → {signed.max_fee}): {reason}")
        strategy.stored(order=order, candidate=candidate, signed=signed)
    logger.info("order %s: fee bump #%s by %s, %s → %s", order.pk, fee_bump, actor, stuck.tx_hash, candidate.tx_hash)
    _broadcast(order, candidate, raise_transient=False)
    candidate.refresh_from_db()
    return candidate


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
    from chains.send_tasks import withdrawal_send

    for order_id in ids:
        withdrawal_send.delay(order_id)
    return ids


# --- the sweep ----------------------------------------------------------------------------------

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
    """Follow every confirming order, and every broadcasting one untouched for ``stale_after``."""
    report = SweepReport()
    stale_cutoff = timezone.now() - (rebroadcast_after() if stale_after is None else stale_after)
    todo = Q(status=Status.CONFIRMING) | Q(status=Status.BROADCASTING, updated_at__lte=stale_cutoff)
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
    progress: dict[int, TxStatus] = {}
    wrote = False
    for order in orders:
        own = candidates.get(order.id, [])
        order_hashes = dict.fromkeys([tx.tx_hash for tx in own] + ([order.tx_hash] if order.tx_hash else []))
        status = _best(statuses[h] for h in order_hashes if h in statuses)
        try:
            changed = _sweep_order(order, status, own, paused=paused, progress=progress, report=report)
        except (DomainError, PermanentChainError) as error:
            report.errors.append(f"W{order.pk}: {error}")
            logger.exception("sweep: order %s", order.pk)
            continue
        if (not changed and status is not None and status.state == TxStatus.PENDING and len(own) > 1
                and own[-1].state == TxState.SIGNED and own[-1].tx_hash in statuses
                and statuses[own[-1].tx_hash].state == TxStatus.NOT_FOUND):
            # A fee bump stored but not accepted (its broadcast hit a node problem) while the
            # transaction it replaces waits in the mempool: send the bump again.
            changed = _resend(order, own, paused=paused, report=report)
        if changed and not wrote:
            wrote = True
            _fault("during_sweep")
    if progress:
        report.progressed += withdrawal_record_confirmations(statuses=progress)


_RANK = {TxStatus.INCLUDED: 3, TxStatus.REVERTED: 3, TxStatus.PENDING: 2, TxStatus.NOT_FOUND: 1}


def _best(statuses) -> TxStatus | None:
    """The most advanced status among an order's candidates (included beats pending beats gone)."""
    best = None
    for status in statuses:
        if best is None or (_RANK[status.state], status.confirmations) > (_RANK[best.state], best.confirmations):
            best = status
    return best


def _sweep_order(order: WithdrawalOrder, status: TxStatus | None, candidates: list[WithdrawalTransaction], *,
                 paused: str, progress: dict[int, TxStatus], report: SweepReport) -> bool:
    """Decide and make the move for one order. Returns whether a service wrote something."""
    if status is None:
        return False
    on_chain = status.state in (TxStatus.INCLUDED, TxStatus.REVERTED)
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
            withdrawal_record_status(order=order.pk, status=status)
            report.completed += 1
            return True
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
    result = _broadcast(order, candidate, raise_transient=False)
    report.resent += 1
    return result.outcome != "retry"
