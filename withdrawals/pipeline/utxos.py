"""The BTC hot wallet's UTXOs, tracked in our database (model ``chains.HotWalletUtxo``).

The node tells us what exists; the database decides what a new transaction may spend, so two
orders never pick the same output (SPEC "no double send", docs/PIPELINE.md "BTC: UTXOs"):

* ``utxo_sync(network=, address=)``: reconcile with ``backend.utxos(address)``. New outputs
  found on chain are recorded ``available`` once confirmed (an unconfirmed deposit could still
  vanish); ``available`` rows the node no longer lists become ``spent`` (spent outside the
  console); rows the node lists again after that are ``available`` again. Rows reserved by a
  candidate, or pending change, are the pipeline's business and are left alone.
* ``utxo_spendable(network=, address=)``: inside the signing transaction: takes the per-address
  lock (a transaction-scoped advisory lock, held until the candidate is stored and committed),
  syncs, and returns the available outputs to select from.
* ``utxo_reserve(candidate=, signed=)``: in the same transaction: the candidate's inputs become
  ``reserved`` by it (a fee bump re-spends the same inputs and moves them on to the
  replacement); its change is recorded ``pending``.
* ``utxo_candidates_settle(order=)``: when the order's candidates reach their final states
  (one confirmed, the others replaced; or all failed): the confirmed one's inputs are ``spent``
  and its change ``available``; every other candidate's change is ``dropped`` and its inputs
  not spent by the confirmed one go back to ``available``.
"""

from __future__ import annotations

import logging
import zlib
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from chains.adapters.base import SignedTransaction
from chains.models import Network
from core.transitions import transition_apply, transition_apply_all
from withdrawals.models import HotWalletUtxo

logger = logging.getLogger(__name__)
U = HotWalletUtxo.Status


def _lock(network: Network, address: str) -> None:
    """Serialise selection per hot address until the caller's transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("UTXO selection must run inside the transaction that stores the signed transaction")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [zlib.crc32(b"chains.utxos") & 0x7FFFFFFF,
                        zlib.crc32(f"{network.code}:{address}".encode()) & 0x7FFFFFFF])


def utxo_sync(*, network: Network, address: str, backend=None) -> dict[str, int]:
    """Reconcile the tracked UTXOs of ``address`` with the node. Returns counts of what changed."""
    from chains.adapters import adapter_for
    from chains.adapters.bitcoin.codec import Utxo

    backend = backend or adapter_for(network).backend
    on_node: dict[tuple[str, int], Utxo] = {(u.txid, u.vout): u for u in backend.utxos(address)}
    counts = {"added": 0, "spent": 0, "revived": 0}
    with transaction.atomic():
        # The rows that can change: the available ones, and any the node lists (not every spent
        # row of the wallet's history).
        listed = Q(txid__in={txid for txid, _ in on_node})
        rows = {(r.txid, r.vout): r for r in HotWalletUtxo.objects.select_for_update()
                .filter(listed | Q(status=U.AVAILABLE), network=network, address=address)}
        for key, utxo in on_node.items():
            row = rows.get(key)
            if row is None:
                found = backend.lookup(utxo.txid)
                if found is None or found.block_height is None:
                    continue  # unconfirmed and not ours: recorded once it confirms
                HotWalletUtxo.objects.create(network=network, address=address, txid=utxo.txid, vout=utxo.vout,
                                             value_sat=utxo.value_sat, script_pubkey=utxo.script_pubkey)
                counts["added"] += 1
            elif row.status == U.SPENT and not row.spent_txid:
                transition_apply(row, "revive", actor=None, reason="The node lists it again (it had lagged)")
                counts["revived"] += 1
        gone = [r for key, r in rows.items() if r.status == U.AVAILABLE and key not in on_node]
        for row in gone:
            row.spent_txid = ""
        counts["spent"] = transition_apply_all(gone, "spend", actor=None, reason="No longer listed by the node",
                                               fields=("spent_txid",))
    if any(counts.values()):
        logger.info("UTXO sync of %s %s: %s", network.code, address, counts)
    return counts


def utxo_sync_hot_wallets(*, network_code: str | None = None) -> dict[str, dict[str, int]]:
    """``utxo_sync`` for the hot wallet of every UTXO network with a hot key configured."""
    from chains.hot_wallets import HotKeyMissing, hot_address

    networks = Network.objects.filter(kind=Network.Kind.UTXO)
    if network_code:
        networks = networks.filter(code=network_code)
    done = {}
    for network in networks:
        try:
            address = hot_address(network)
        except HotKeyMissing:
            continue
        done[network.code] = utxo_sync(network=network, address=address)
    return done


def utxo_spendable(*, network: Network, address: str, backend=None) -> list:
    """Lock the hot address, sync with the node, and return its available outputs (adapter Utxos)."""
    from chains.adapters.bitcoin.codec import Utxo

    _lock(network, address)
    utxo_sync(network=network, address=address, backend=backend)
    rows = HotWalletUtxo.objects.filter(network=network, address=address, status=U.AVAILABLE)
    return [Utxo(r.txid, r.vout, r.value_sat, r.script_pubkey, r.address) for r in rows]


def utxo_reserve(*, candidate, signed: SignedTransaction, network: Network) -> None:
    """Reserve ``signed``'s inputs for the stored ``candidate`` and record its change (pending).

    Refuses (and so rolls the caller back) if an input is not ours to spend: not tracked, spent,
    or reserved by another order.
    """
    inputs = [(i["txid"], int(i["vout"])) for i in signed.meta.get("inputs", [])]
    match = Q()
    for txid, vout in inputs:
        match |= Q(txid=txid, vout=vout)
    rows = list(HotWalletUtxo.objects.select_for_update(of=("self",)).select_related("reserved_by")
                .filter(match, network=network)) if inputs else []
    for row in rows:
        own = row.status == U.RESERVED and row.reserved_by.order_id == candidate.order_id
        if row.status != U.AVAILABLE and not own:
            raise RuntimeError(f"UTXO {row.txid}:{row.vout} is {row.status}, not spendable by W{candidate.order_id}")
    if len(rows) != len(inputs):
        raise RuntimeError(f"{len(inputs) - len(rows)} input(s) of {signed.tx_hash} are not tracked UTXOs")
    for row in rows:
        row.reserved_by = candidate
    transition_apply_all(rows, "reserve", actor=None, reason=f"Input of {candidate.tx_hash}", fields=("reserved_by",))
    change = signed.meta.get("change")
    if change:
        HotWalletUtxo.objects.create(
            network=network, address=change["address"], txid=signed.tx_hash, vout=int(change["vout"]),
            value_sat=int(change["value_sat"]), script_pubkey=_change_script(signed, network), status=U.PENDING,
            origin=candidate)


def _change_script(signed: SignedTransaction, network: Network) -> str:
    """The change output's script: the hot wallet's own (its inputs'), else read from the bytes."""
    change = signed.meta["change"]
    if change["address"] == signed.sender:
        return signed.meta["inputs"][0]["script_pubkey"]
    from chains.adapters.bitcoin.codec import parse_transaction

    tx = parse_transaction(signed.raw, address_network=network.address_network)
    return tx.outputs[int(change["vout"])].lock_script.hex()


def _outpoints(meta: dict) -> Q:
    match = Q(pk__in=[])
    for i in (meta or {}).get("inputs", []):
        match |= Q(txid=i["txid"], vout=int(i["vout"]))
    return match


def utxo_candidates_settle(*, order) -> None:
    """Bring the order's UTXOs in line with its candidates' states (idempotent): call it after
    a candidate is confirmed, replaced or failed."""
    from withdrawals.models import WithdrawalTransaction

    TxState = WithdrawalTransaction.State  # noqa: N806
    candidates = list(WithdrawalTransaction.objects.filter(order=order).only("pk", "tx_hash", "state", "meta"))
    network_id = order.coin.network_id
    locked_rows = HotWalletUtxo.objects.select_for_update().order_by("id")
    for candidate in candidates:
        if candidate.state == TxState.CONFIRMED:
            inputs = list(locked_rows.filter(_outpoints(candidate.meta), network_id=network_id)
                          .exclude(status=U.SPENT, spent_txid=candidate.tx_hash))
            for row in inputs:
                row.spent_txid = candidate.tx_hash
            transition_apply_all(inputs, "spend", actor=None, reason=f"Spent by {candidate.tx_hash}",
                                 fields=("spent_txid",))
            transition_apply_all(list(locked_rows.filter(origin=candidate, status=U.PENDING)), "confirm_change",
                                 actor=None, reason=f"{candidate.tx_hash} confirmed")
        elif candidate.state in (TxState.REPLACED, TxState.FAILED):
            transition_apply_all(list(locked_rows.filter(origin=candidate, status=U.PENDING)), "drop",
                                 actor=None, reason=f"{candidate.tx_hash} {candidate.state}")
    if not any(c.state in (TxState.SIGNED, TxState.SENT, TxState.CONFIRMED) for c in candidates):
        # Nothing of this order may still spend them: free for the next order.
        freed = list(locked_rows.filter(reserved_by__in=candidates, status=U.RESERVED))
        for row in freed:
            row.reserved_by = None
        transition_apply_all(freed, "release", actor=None, reason=f"No candidate of W{order.pk} may spend it",
                             fields=("reserved_by",))


def utxo_balance(*, network: Network, address: str) -> dict[str, Decimal]:
    """Sums per state, in BTC (for the admin and the tests)."""
    from django.db.models import Sum

    from chains.adapters.bitcoin.codec import sat_to_btc

    sums = dict(HotWalletUtxo.objects.filter(network=network, address=address).values("status")
                .annotate(total=Sum("value_sat")).values_list("status", "total"))
    return {status: sat_to_btc(sums.get(status, 0) or 0) for status in U.values}
