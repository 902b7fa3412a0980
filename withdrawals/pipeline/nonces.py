"""Nonces of the hot addresses, allocated in the database so two workers never share one.

The rule (see docs/PIPELINE.md, "Nonces"):

* ``nonce_allocate`` must run inside the transaction that also stores the signed transaction
  (``withdrawal_store_signed``). It locks the allocator row of (network, hot address) with
  ``SELECT ... FOR UPDATE``; the lock is held until that transaction commits, so a second
  worker waits, and then sees the first one's stored candidate.
* The next nonce is ``max(node pending nonce, 1 + highest nonce of our live candidates)``, where
  a live candidate is a stored transaction of this sender that is signed or sent, of an order
  that is not finished. The node knows what was mined or sits in its mempool; the database
  knows what we signed and have not (yet, or any more) got onto the node: a transaction signed
  but never sent because the worker died, or one dropped by a re-org.
* A crash before the commit stores nothing: no candidate, no allocator move. Nothing was
  broadcast (broadcasting happens only after the commit), so the nonce is simply handed out
  again next time; no gap.
* A candidate that failed for good and was never mined stops being live, so its nonce is reused
  when it is the highest; below a later live candidate it leaves a gap that only a same-nonce
  replacement fills (the stuck-transaction tools of the BTC/TRON issue).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from chains.models import Network
from withdrawals.models import HotWalletNonce


class NonceError(RuntimeError):
    pass


def _live_max_nonce(*, network: Network, address: str) -> int | None:
    from withdrawals.models import WithdrawalOrder, WithdrawalTransaction

    live = (WithdrawalTransaction.objects
            .filter(sender=address, order__coin__network=network, nonce__isnull=False,
                    state__in=[WithdrawalTransaction.State.SIGNED, WithdrawalTransaction.State.SENT])
            .exclude(order__status__in=WithdrawalOrder.TERMINAL))
    return live.aggregate(top=Max("nonce"))["top"]


def nonce_allocate(*, network: Network, address: str, node_pending: int) -> int:
    """The nonce for the next transaction of ``address`` on ``network``. Locks the allocator row
    until the caller's transaction ends: call it inside the atomic block that stores the signed
    transaction, and read ``node_pending`` from the node just before."""
    if not transaction.get_connection().in_atomic_block:
        raise NonceError("nonce_allocate must run inside the transaction that stores the signed transaction")
    HotWalletNonce.objects.get_or_create(network=network, address=address)  # its own savepoint
    row = HotWalletNonce.objects.select_for_update().get(network=network, address=address)
    top = _live_max_nonce(network=network, address=address)  # read after the lock: sees the last holder's rows
    nonce = max(node_pending, top + 1 if top is not None else 0)
    row.next_nonce = nonce + 1
    row.node_nonce = node_pending
    row.save(update_fields=["next_nonce", "node_nonce", "updated_at"])
    return nonce
