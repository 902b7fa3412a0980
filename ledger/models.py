"""The ledger: accounts with stored balances and an append-only journal of balanced entries.

Sign convention (see docs/LEDGER.md):

* A leg's ``amount`` is signed: **positive = debit, negative = credit**. The legs of an entry sum
  to zero per currency (a deferred constraint trigger checks it at commit).
* An account's ``balance`` is kept on its **normal side**: ``balance = normal_sign * sum(legs)``,
  where ``normal_sign`` is +1 for debit-normal accounts (the tenant's assets and the network-fee
  expense) and -1 for credit-normal ones (what is owed to customers, fee revenue, the outside
  world, a fee shortfall). So a positive balance is always "what the account holds", and a
  negative one means overdrawn; a CHECK constraint refuses that for every kind but ``external``.

The tables are written by the PL/pgSQL functions of ``ledger/sql/`` (one round trip per posting)
and guarded by triggers: entries and legs refuse UPDATE and DELETE; a balance changes only by
inserting a leg. Each leg on a customer instrument account is a ``SecuritiesPosting`` record (a
view over the legs); what staff marked synced is a ``SecuritiesSync`` row.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from core.amounts import format_amount
from core.fields import AmountField


class AccountKind(models.TextChoices):
    CUSTOMER_AVAILABLE = "customer_available", "Customer available"
    CUSTOMER_HELD = "customer_held", "Customer held"
    SUB_ACCOUNT = "sub_account", "Tenant sub-account"
    MAIN_ACCOUNT = "main_account", "Tenant main account"
    MAIN_RESERVED = "main_reserved", "Main account reserved"
    NETWORK_FEE_EXPENSE = "network_fee_expense", "Network fees (expense)"
    FEE_REVENUE = "fee_revenue", "Withdrawal fee revenue"
    EXTERNAL = "external", "External (outside world)"
    MAIN_SHORTFALL = "main_shortfall", "Main account fee shortfall"
    # Cash-out to fiat (docs/FIAT.md).
    CLIENT_MONEY_BANK = "client_money_bank", "Client-money bank account (fiat)"
    FIAT_IN_TRANSIT = "fiat_in_transit", "Fiat in transit (payment file sent, not yet on the statement)"
    BANK_CHARGES = "bank_charges", "Bank charges (expense)"
    CRYPTO_INVENTORY = "crypto_inventory", "Tenant crypto inventory (bought from customers)"


CUSTOMER_KINDS = (AccountKind.CUSTOMER_AVAILABLE, AccountKind.CUSTOMER_HELD)
DEBIT_NORMAL_KINDS = (
    AccountKind.SUB_ACCOUNT,
    AccountKind.MAIN_ACCOUNT,
    AccountKind.MAIN_RESERVED,
    AccountKind.NETWORK_FEE_EXPENSE,
    AccountKind.CLIENT_MONEY_BANK,
    AccountKind.BANK_CHARGES,
)
# Only the outside world may go either way; every other account refuses to be overdrawn.
MAY_GO_NEGATIVE_KINDS = (AccountKind.EXTERNAL,)

INSTRUMENT_REGEX = r"^VA/[A-Z0-9]{2,10}/[A-Z0-9]+[A-Z]{3}$"
# A customer's fiat cash position: FIAT/<VENUE>/<CURRENCY>, e.g. FIAT/HAS/HKD.
FIAT_INSTRUMENT_REGEX = r"^FIAT/[A-Z0-9]{2,10}/[A-Z]{3}$"
FIAT_CURRENCIES = ("HKD", "USD")


class EntryKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    HOLD = "hold", "Hold (available → held)"
    RELEASE = "release", "Release (held → available)"
    SETTLE = "settle", "Settle (held → sub-account, revenue)"
    FEE_RESERVE = "fee_reserve", "Fee reserve (main → reserved)"
    FEE_RELEASE = "fee_release", "Fee release (reserved → main)"
    FEE_BOOK = "fee_book", "Fee booked (network fee paid)"
    MAIN_TOPUP = "main_topup", "Main account top-up"
    SUB_TO_MAIN = "sub_to_main", "Sub-account → main account"
    SELL = "sell", "Sell (crypto → inventory, fiat → customer)"
    FIAT_SEND = "fiat_send", "Fiat payment sent (held → in transit, fee)"
    FIAT_SETTLE = "fiat_settle", "Fiat payment on the statement (in transit → bank)"
    FIAT_RETURN = "fiat_return", "Fiat payment returned (in transit → available, less charge)"
    BANK_CHARGE = "bank_charge", "Bank charge on the statement"
    P2P_ESCROW = "p2p_escrow", "P2P escrow (seller available → held)"
    P2P_RELEASE = "p2p_release", "P2P release (escrow → buyer, fee → revenue)"
    P2P_REFUND = "p2p_refund", "P2P refund (escrow → seller available)"


class Account(models.Model):
    """One balance: owner (a customer, or the tenant), currency, instrument (customer accounts
    only) and kind. The balance is stored and changes only through journal legs."""

    tenant = models.ForeignKey(
        "customers.Tenant", on_delete=models.PROTECT, related_name="ledger_accounts",
        help_text="The tenant whose books hold this account (for a customer account: the customer's tenant).")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_accounts",
        help_text="Owner of a customer account; empty for the tenant's own accounts.")
    currency = models.ForeignKey(
        "chains.Currency", to_field="code", db_column="currency", on_delete=models.PROTECT, related_name="+",
        help_text="Currency code of every amount on this account.")
    instrument = models.CharField(
        max_length=40, blank=True,
        help_text="Securities instrument VA/<VENUE>/<CURRENCY><QUOTE>, e.g. VA/HAS/ETHUSD, or a fiat cash "
                  "position FIAT/<VENUE>/<CURRENCY>; customer accounts only, empty for tenant accounts.")
    kind = models.CharField(max_length=24, choices=AccountKind.choices)
    # Written from the kind by the database (trigger ledger_account_shape, ledger/sql/0013), not a
    # generated column: PostgreSQL recomputes a stored generated column on every UPDATE, and every
    # posting updates balances.
    normal_sign = models.SmallIntegerField(
        editable=False,
        help_text="+1: debit-normal (tenant assets, expense); -1: credit-normal (owed to customers, "
                  "revenue, outside world). balance = normal_sign × sum of legs. Written from the kind by "
                  "the database (trigger ledger_account_shape).")
    balance = AmountField(
        default=0, editable=False,
        help_text="Normal-side balance: what the account holds. Kept equal to normal_sign × sum of its "
                  "legs by a trigger; never negative except for the external account.")
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "ledger_account"
        ordering = ["tenant_id", "customer_id", "currency_id", "instrument", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "currency", "kind", "instrument"],
                                    condition=Q(customer__isnull=False), name="ledger_account_customer_unique"),
            models.UniqueConstraint(fields=["tenant", "currency", "kind"],
                                    condition=Q(customer__isnull=True), name="ledger_account_tenant_unique"),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind__in=MAY_GO_NEGATIVE_KINDS), name="ledger_account_not_overdrawn"),
            # The kind list and "the owner matches the kind" (customer kinds: a customer and an
            # instrument VA/<venue>/<currency><quote>, or FIAT/<venue>/<fiat> for HKD and USD; tenant
            # kinds: neither) are enforced by the BEFORE INSERT trigger ledger_account_shape, which
            # raises check_violation as ledger_account_kind_valid / ledger_account_owner_matches_kind.
            # As CHECKs, PostgreSQL re-read them on every balance update (ledger/sql/0013).
        ]
        indexes = [models.Index(fields=["kind", "currency"], name="ledger_account_kind_cur")]

    def __str__(self) -> str:
        owner = f"customer {self.customer_id}" if self.customer_id else f"tenant {self.tenant_id}"
        where = f" {self.instrument}" if self.instrument else ""
        return f"{owner} {self.currency_id}{where} {self.kind}"


class JournalEntry(models.Model):
    """One posting: a set of legs summing to zero per currency. Never updated nor deleted."""

    reference = models.CharField(
        max_length=200,
        help_text="Idempotency reference given by the caller (e.g. withdrawal:42:hold). The same reference "
                  "posts once; reusing it for another posting is refused (ledger_reference_conflict).")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # No FK constraint on the hot path's shared rows (tenant, currency): the deferred FK check takes a
    # KEY SHARE lock on the referenced row, and every concurrent posting sharing that one row then
    # goes through a multixact. The posting functions derive these columns from checked rows.
    tenant = models.ForeignKey("customers.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    # Nor on the customer (a KEY SHARE row lock, i.e. a WAL-logged write of the customer row, per
    # posting): every posting naming a customer moves that customer's accounts, whose FK keeps the
    # customer from being deleted; ledger_check re-verifies. No index either: nothing looks entries
    # up by customer (the admin's search scans, it is a substring search).
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", db_constraint=False, db_index=False,
                                 help_text="The customer concerned, if any.")
    currency = models.ForeignKey("chains.Currency", to_field="code", db_column="currency",
                                 on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    request = models.JSONField(
        editable=False,
        help_text="The normalised arguments of the service call; a replay of the reference must match them.")
    memo = models.TextField(blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        db_table = "ledger_entry"
        ordering = ["-id"]
        verbose_name_plural = "journal entries"
        constraints = [
            # A constraint rather than unique=True: the same unique index, without the extra
            # varchar_pattern_ops ("_like") index Django adds for unique CharFields on PostgreSQL.
            models.UniqueConstraint(fields=["reference"], name="ledger_entry_reference_unique"),
            # The kind list: trigger ledger_entry_shape (check_violation ledger_entry_kind_valid),
            # cheaper per insert than a CHECK (ledger/sql/0013).
        ]
        # Entries are appended in time order: a BRIN index serves the admin's date filters for a
        # fraction of a B-tree's upkeep per insert.
        indexes = [BrinIndex(fields=["created_at"], name="ledger_entry_created_brin")]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}"


class JournalLeg(models.Model):
    """A debit (amount > 0) or credit (amount < 0) of one account within an entry."""

    # Entry and account are enforced by the leg trigger (both must exist, the account in the leg's
    # currency) and neither can be deleted (triggers); a deferred FK check would add a KEY SHARE
    # row lock per leg at commit on the hot path for nothing more.
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="legs", db_constraint=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="legs", db_index=False,
                                db_constraint=False)
    currency = models.ForeignKey("chains.Currency", to_field="code", db_column="currency",
                                 on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False,
                                 help_text="The account's currency (checked by the trigger that applies the leg).")
    amount = AmountField(help_text="Signed: positive = debit, negative = credit. Never zero.")

    class Meta:
        db_table = "ledger_leg"
        ordering = ["id"]
        verbose_name = "journal leg"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_leg_amount_not_zero")]
        # (account, entry): a customer's postings found from their accounts (the tax records, tax/,
        # read every entry that moved a customer's coins, whoever the entry names: a P2P release
        # moves the buyer's and the seller's accounts). One B-tree insert per leg; the rest of the
        # ledger (balances stored, ledger_check joining whole tables) does not need it.
        indexes = [models.Index(fields=["account", "entry"], name="ledger_leg_account_entry")]

    def __str__(self) -> str:
        side = "Dr" if self.amount > 0 else "Cr"
        return f"{side} {format_amount(abs(self.amount))} {self.currency_id} → account {self.account_id}"

    @property
    def debit(self):
        return self.amount if self.amount > 0 else None

    @property
    def credit(self):
        return -self.amount if self.amount < 0 else None


class SecuritiesPosting(models.Model):
    """What the securities account must book: one record per leg on a customer instrument account.

    A database view over the legs (``ledger/sql/0005_perf_hold_path.sql``): the record is the leg
    seen from the securities side, so it exists as soon as the leg does and cannot disagree with
    it. ``synced_at`` / ``synced_by`` come from ``SecuritiesSync``. Exported as CSV from the
    admin, then marked synced (``ledger.services.securities_mark_synced``)."""

    leg = models.OneToOneField(JournalLeg, on_delete=models.DO_NOTHING, primary_key=True, db_constraint=False,
                               related_name="securities_posting",
                               help_text="The leg this record mirrors; its id is the record's id.")
    entry = models.ForeignKey(JournalEntry, on_delete=models.DO_NOTHING, related_name="securities_postings",
                              db_index=False, db_constraint=False)
    reference = models.CharField(max_length=200, help_text="The journal entry's reference.")
    customer = models.ForeignKey("customers.Customer", on_delete=models.DO_NOTHING, related_name="+",
                                 db_constraint=False, db_index=False)
    instrument = models.CharField(max_length=40, help_text="Combined instrument code, e.g. VA/HAS/ETHUSD.")
    currency = models.ForeignKey("chains.Currency", to_field="code", db_column="currency",
                                 on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False)
    account_kind = models.CharField(max_length=24, choices=AccountKind.choices,
                                    help_text="Available or held position of the instrument.")
    quantity = AmountField(help_text="Signed change of the customer's position: + in, − out.")
    created_at = models.DateTimeField(editable=False, help_text="When the entry was posted.")
    synced_at = models.DateTimeField(null=True, blank=True, editable=False,
                                     help_text="When staff marked it as booked in the securities account.")
    synced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, blank=True,
                                  editable=False, related_name="+", db_index=False, db_constraint=False)

    class Meta:
        managed = False  # the view ledger_securities_posting
        db_table = "ledger_securities_posting"
        ordering = ["leg_id"]
        permissions = [("mark_securities_synced", "Can mark securities postings as synced to the securities account")]

    def __str__(self) -> str:
        return f"{self.instrument} {self.quantity:+} ({self.reference})"


class SecuritiesSync(models.Model):
    """A securities posting record marked as booked in the securities account: when and by whom.
    Written by ``securities_mark_synced`` only (never on the posting path); append-only."""

    leg = models.OneToOneField(JournalLeg, on_delete=models.PROTECT, primary_key=True, db_constraint=False,
                               related_name="securities_sync",
                               help_text="The record (= customer-instrument leg) marked synced.")
    synced_at = models.DateTimeField(help_text="When staff marked it as booked in the securities account.")
    synced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)

    class Meta:
        db_table = "ledger_securities_sync"
        ordering = ["leg_id"]

    def __str__(self) -> str:
        return f"leg {self.leg_id} synced {self.synced_at:%Y-%m-%d %H:%M}"
