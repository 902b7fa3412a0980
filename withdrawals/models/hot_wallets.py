"""What the send pipeline keeps per hot wallet: the EVM nonce allocator and the BTC outputs it
tracks, with the admin's views of the kill switches and the fee reserve (withdrawals.admin.sending).

These tables were created by the chains app and keep their names (``chains_…``): the models moved
here with the pipeline, because they exist for the withdrawals it sends.
"""

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from chains.models import Coin, Network
from core.history import StatusChange
from core.transitions import Audited


class HotWalletNonce(models.Model):
    """The nonce allocator of one hot address on one network (see withdrawals.pipeline.nonces).

    The row is a mutex: allocation locks it (``select_for_update``) for the whole
    allocate-sign-store transaction, so two workers never hand out the same nonce.
    ``next_nonce`` is the one after the last allocated, kept for display and audit.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128)
    next_nonce = models.BigIntegerField(default=0)
    node_nonce = models.BigIntegerField(default=0, help_text="The node's pending nonce at the last allocation.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chains_hotwalletnonce"
        verbose_name = "hot-wallet nonce"
        constraints = [models.UniqueConstraint(fields=["network", "address"], name="hot_wallet_nonce_unique")]

    def __str__(self) -> str:
        return f"{self.network_id and self.network.code} {self.address}: next {self.next_nonce}"


class HotWalletUtxo(Audited, FSMModelMixin, models.Model):
    """An output paying a BTC hot wallet, as our database tracks it (see withdrawals.pipeline.utxos).

    The database, not the node, decides which outputs a new transaction may spend: signing reserves
    its inputs for the candidate in the same transaction that stores the signed transaction, under
    a per-address lock, so two orders never spend the same output. States:

    * ``pending``: the change of one of our own transactions, not confirmed yet; not spendable
      (spending it would chain onto a transaction a fee bump may still replace);
    * ``available``: confirmed and free;
    * ``reserved``: an input of a stored candidate (``reserved_by``: its newest candidate; a fee
      bump re-spends the same inputs, so it moves them on to the replacement);
    * ``spent``: spent by a confirmed transaction (``spent_txid``; empty when the node simply
      stopped listing it, e.g. spent outside the console);
    * ``dropped``: the change of a candidate that never confirmed (replaced or failed): it never
      existed on chain.
    """

    event_name = None  # coin bookkeeping of the send pipeline: its moves make no event

    class Status(models.TextChoices):
        PENDING = "pending", "Unconfirmed change"
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved by a candidate"
        SPENT = "spent", "Spent"
        DROPPED = "dropped", "Dropped (its transaction never confirmed)"

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=128)
    txid = models.CharField(max_length=64)
    vout = models.PositiveIntegerField()
    value_sat = models.PositiveBigIntegerField()
    script_pubkey = models.CharField(max_length=200, help_text="Hex of the output script.")
    status = FSMField(max_length=12, choices=Status.choices, default=Status.AVAILABLE, db_index=True, protected=True)
    reserved_by = models.ForeignKey("WithdrawalTransaction", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="reserved_utxos",
                                    help_text="The candidate spending it (the newest, after a fee bump).")
    origin = models.ForeignKey("WithdrawalTransaction", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="change_utxos",
                               help_text="Our candidate whose change this is; empty for outputs found on chain.")
    spent_txid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chains_hotwalletutxo"
        verbose_name = "hot-wallet UTXO"
        ordering = ["network", "address", "-value_sat"]
        constraints = [
            models.UniqueConstraint(fields=["network", "txid", "vout"], name="hot_wallet_utxo_unique"),
            models.CheckConstraint(condition=Q(status="reserved", reserved_by__isnull=False) | ~Q(status="reserved"),
                                   name="hot_wallet_utxo_reserved_by_candidate"),
        ]
        indexes = [models.Index(fields=["network", "address", "status"])]

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout} {self.value_sat} sat ({self.status})"

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return HotWalletUtxoStatusChange(utxo=self, from_status=from_state, to_status=to_state, actor=actor,
                                         reason=reason)

    # --- the moves; withdrawals.pipeline.utxos locks, calls, saves and audits -----------------
    S = Status

    @transition(field=status, source=[S.AVAILABLE, S.RESERVED], target=S.RESERVED)
    def reserve(self):
        """An input of a stored candidate (again: moved on to a fee bump's replacement)."""

    @transition(field=status, source=S.RESERVED, target=S.AVAILABLE)
    def release(self):
        """No candidate of its order may still spend it."""

    @transition(field=status, source=[S.AVAILABLE, S.RESERVED, S.SPENT], target=S.SPENT)
    def spend(self):
        """Spent by a confirmed transaction, or no longer listed by the node."""

    @transition(field=status, source=S.SPENT, target=S.AVAILABLE)
    def revive(self):
        """The node lists it again (it had lagged)."""

    @transition(field=status, source=S.PENDING, target=S.AVAILABLE)
    def confirm_change(self):
        """Our transaction confirmed: its change is ours to spend."""

    @transition(field=status, source=S.PENDING, target=S.DROPPED)
    def drop(self):
        """Our transaction never confirmed: its change never existed."""

    del S


class HotWalletUtxoStatusChange(StatusChange):
    """Audit row for every move of a tracked output."""

    utxo = models.ForeignKey(HotWalletUtxo, on_delete=models.PROTECT, related_name="history")


class NetworkSendingControl(Network):
    """Networks as the kill-switch page of the admin shows them (withdrawals.admin.sending)."""

    class Meta:
        proxy = True
        verbose_name = "network kill switch"
        verbose_name_plural = "network kill switches"


class FeeReserveCoin(Coin):
    """Coins as the fee-reserve page of the admin shows them (withdrawals.admin.sending)."""

    class Meta:
        proxy = True
        verbose_name = "fee reserve"
        verbose_name_plural = "fee reserve"
