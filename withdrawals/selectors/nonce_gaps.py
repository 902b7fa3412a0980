"""Nonce gaps: a dropped EVM transaction that our later transactions wait behind.

A node mines a sender's transactions in nonce order. When the one holding the lowest unmined
nonce leaves every mempool (evicted, dropped by a re-org, a node restart), the later ones sit in
the pool for ever and no fee bump of *them* helps: the missing one must be sent again. Reads only
(the node and the database); no key is involved, so the admin may call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from chains.adapters import TxStatus, adapter_for
from chains.models import Network
from withdrawals.models import HotWalletNonce, WithdrawalTransaction
from withdrawals.pipeline.delays import stuck_after

LIVE = (WithdrawalTransaction.State.SIGNED, WithdrawalTransaction.State.SENT)


@dataclass(frozen=True)
class NonceGap:
    network: str
    address: str
    confirmed_nonce: int  # the lowest nonce not mined: the missing one
    pending_nonce: int  # what the node counts with its mempool
    waiting: int  # our live transactions with higher nonces, held back by the gap
    order_id: int | None  # our order whose stored transaction holds the missing nonce (None: none does)
    tx_hash: str | None
    since: datetime  # when that transaction (or the oldest one waiting) was signed

    def __str__(self) -> str:
        holder = f"W{self.order_id} ({self.tx_hash})" if self.order_id else "no stored transaction of ours"
        return (f"{self.network} {self.address}: nonce {self.confirmed_nonce} is missing from the node, "
                f"{self.waiting} transaction(s) wait behind it; it belongs to {holder}")


def nonce_gaps(*, network: Network, adapter=None) -> list[NonceGap]:
    """The hot addresses of ``network`` whose lowest unmined nonce is held by a transaction the
    node does not know, for longer than PIPELINE_STUCK_AFTER_SECONDS, with later ones waiting.

    Per hot address: the node's pending nonce is ahead of its confirmed (``latest``) nonce, or we
    hold live transactions above the confirmed nonce; and our candidate with the confirmed nonce
    is unknown to the node (``not_found``), signed before the cut-off. Two node reads per address
    and one batch of statuses; two queries."""
    if network.kind != Network.Kind.EVM:
        return []
    adapter = adapter or adapter_for(network)
    cutoff = timezone.now() - stuck_after()
    live = list(WithdrawalTransaction.objects.filter(order__coin__network=network, state__in=LIVE,
                                                     nonce__isnull=False).order_by("nonce", "-id"))
    addresses = set(HotWalletNonce.objects.filter(network=network).values_list("address", flat=True))
    addresses |= {tx.sender for tx in live}
    gaps = []
    for address in sorted(addresses):
        confirmed, pending = adapter.confirmed_nonce(address), adapter.pending_nonce(address)
        mine = [tx for tx in live if tx.sender == address and tx.nonce >= confirmed]
        waiting = [tx for tx in mine if tx.nonce > confirmed]
        if pending <= confirmed and not waiting:
            continue  # nothing waits: no gap
        holders = [tx for tx in mine if tx.nonce == confirmed]
        if holders:
            statuses = adapter.tx_statuses([tx.tx_hash for tx in holders])
            if any(statuses[tx.tx_hash].state != TxStatus.NOT_FOUND for tx in holders):
                continue  # the node has it: merely pending (a fee bump's business), not a gap
        if not waiting and pending <= confirmed + len(holders):
            continue
        holder = holders[0] if holders else None
        since = holder.created_at if holder else min((tx.created_at for tx in waiting), default=timezone.now())
        if since > cutoff:
            continue
        gaps.append(NonceGap(network=network.code, address=address, confirmed_nonce=confirmed, pending_nonce=pending,
                             waiting=len(waiting), order_id=holder.order_id if holder else None,
                             tx_hash=holder.tx_hash if holder else None, since=since))
    return gaps


def nonce_gap_order_ids() -> list[int]:
    """The orders holding a missing nonce on any EVM network (the admin's stuck list)."""
    ids = []
    for network in Network.objects.filter(kind=Network.Kind.EVM):
        ids += [gap.order_id for gap in nonce_gaps(network=network) if gap.order_id]
    return ids
