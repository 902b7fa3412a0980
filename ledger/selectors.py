"""Ledger reads: balances for the App and the admin, the securities sync queue, and the
consistency check used by ``manage.py ledger_check`` and by tests."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from ledger.models import CUSTOMER_KINDS, FIAT_CURRENCIES, Account, AccountKind, SecuritiesPosting

ZERO = Decimal(0)
# Kinds refused to go negative (CHECK ledger_account_not_overdrawn); ledger_check re-verifies.
NON_NEGATIVE_KINDS = tuple(k.value for k in AccountKind if k != AccountKind.EXTERNAL)


def customer_balances(*, customer) -> list[dict]:
    """The customer's balances per currency, with the instruments under it (one query)::

        [{"currency": "ETH", "available": Decimal, "held": Decimal,
          "instruments": [{"instrument": "VA/HAS/ETHHKD", "available": Decimal, "held": Decimal}, ...]}]

    Currencies and instruments are sorted by code."""
    rows = (Account.objects.filter(customer_id=customer.pk, kind__in=CUSTOMER_KINDS)
            .order_by("currency_id", "instrument").values_list("currency_id", "instrument", "kind", "balance"))
    currencies: dict[str, dict] = {}
    for currency, instrument, kind, balance in rows:
        entry = currencies.setdefault(currency, {"currency": currency, "available": ZERO, "held": ZERO,
                                                 "instruments": {}})
        side = "available" if kind == AccountKind.CUSTOMER_AVAILABLE else "held"
        line = entry["instruments"].setdefault(instrument, {"instrument": instrument, "available": ZERO,
                                                            "held": ZERO})
        line[side] += balance
        entry[side] += balance
    return [{**entry, "instruments": list(entry["instruments"].values())} for entry in currencies.values()]


def customer_available(*, customer, currency: str) -> Decimal:
    """What the customer may withdraw in a currency, over all its instruments."""
    return sum(Account.objects.filter(customer_id=customer.pk, currency_id=currency,
                                      kind=AccountKind.CUSTOMER_AVAILABLE).values_list("balance", flat=True), ZERO)


def tenant_balances(*, tenant, currency: str) -> dict[str, Decimal]:
    """The tenant's own accounts in a currency, by kind (0 for an account not yet used)."""
    balances = {kind.value: ZERO for kind in AccountKind if kind not in CUSTOMER_KINDS}
    balances.update(Account.objects.filter(tenant_id=tenant.pk, customer__isnull=True, currency_id=currency)
                    .values_list("kind", "balance"))
    return balances


def tenant_fee_reserve(*, tenant, currency: str) -> dict:
    """The fee reserve of a currency: ``main`` (free to reserve), ``reserved`` (for approved,
    unsent withdrawals), ``sub_account`` (customers' principal at the venue), ``shortfall``
    (network fees paid beyond the main account, repaid by the next transfer in), ``expense``
    (network fees paid) and ``revenue`` (customer fees earned). One query."""
    b = tenant_balances(tenant=tenant, currency=currency)
    return {
        "currency": currency,
        "main": b[AccountKind.MAIN_ACCOUNT],
        "reserved": b[AccountKind.MAIN_RESERVED],
        "sub_account": b[AccountKind.SUB_ACCOUNT],
        "shortfall": b[AccountKind.MAIN_SHORTFALL],
        "expense": b[AccountKind.NETWORK_FEE_EXPENSE],
        "revenue": b[AccountKind.FEE_REVENUE],
    }


def account_balance(*, tenant=None, customer=None, currency: str, kind: str, instrument: str = "") -> Decimal:
    """One account's balance (0 if it does not exist yet)."""
    accounts = Account.objects.filter(currency_id=currency, kind=kind)
    if customer is not None:
        accounts = accounts.filter(customer_id=customer.pk, instrument=instrument)
    else:
        accounts = accounts.filter(tenant_id=tenant.pk, customer__isnull=True)
    return accounts.values_list("balance", flat=True).first() or ZERO


def securities_unsynced() -> QuerySet[SecuritiesPosting]:
    """Securities posting records not yet marked as booked in the securities account, oldest first."""
    return (SecuritiesPosting.objects.filter(synced_at__isnull=True)
            .select_related("customer").order_by("leg_id"))


# --- consistency ---------------------------------------------------------------------------

_CHECKS: list[tuple[str, str]] = [
    ("entry {0} ({1}): its {2} legs sum to {3}, not 0",
     """SELECT e.id, e.reference, l.currency, trim_scale(sum(l.amount))
          FROM ledger_leg l JOIN ledger_entry e ON e.id = l.entry_id
         GROUP BY e.id, e.reference, l.currency HAVING sum(l.amount) <> 0 ORDER BY e.id"""),
    ("entry {0} ({1}) has {2} leg(s); an entry needs at least two",
     """SELECT e.id, e.reference, count(l.id)
          FROM ledger_entry e LEFT JOIN ledger_leg l ON l.entry_id = e.id
         GROUP BY e.id, e.reference HAVING count(l.id) < 2 ORDER BY e.id"""),
    ("leg {0} of entry {1} is in {2} but its account {3} is in {4}",
     """SELECT l.id, l.entry_id, l.currency, a.id, a.currency
          FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id
         WHERE l.currency <> a.currency ORDER BY l.id"""),
    ("account {0} ({1} {2} {3}): stored balance {4} but its legs give {5}",
     """SELECT a.id, a.kind, a.currency, a.instrument, trim_scale(a.balance),
               trim_scale(a.normal_sign * coalesce(s.total, 0))
          FROM ledger_account a
          LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_leg GROUP BY account_id) s
                 ON s.account_id = a.id
         WHERE a.balance <> a.normal_sign * coalesce(s.total, 0) ORDER BY a.id"""),
    ("account {0} ({1} {2} {3}) is overdrawn: {4}",
     """SELECT a.id, a.kind, a.currency, a.instrument, trim_scale(a.balance)
          FROM ledger_account a WHERE a.balance < 0 AND a.kind = ANY(%(non_negative)s) ORDER BY a.id"""),
    ("currency {0}: the whole book sums to {1}, not 0",
     """SELECT currency, trim_scale(sum(amount)) FROM ledger_leg GROUP BY currency HAVING sum(amount) <> 0"""),
    ("entry {0} ({1}) names customer {2}, who does not exist",
     """SELECT e.id, e.reference, e.customer_id FROM ledger_entry e
         WHERE e.customer_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM customers_customer c WHERE c.id = e.customer_id) ORDER BY e.id"""),
    # Fiat (docs/FIAT.md): fiat-only kinds in fiat, the crypto inventory and VA instruments in crypto.
    ("account {0} ({1} {2}): a fiat account kind in a currency that is not fiat",
     """SELECT a.id, a.kind, a.currency FROM ledger_account a
         WHERE a.kind IN ('client_money_bank', 'fiat_in_transit', 'bank_charges')
           AND NOT a.currency = ANY(%(fiat)s) ORDER BY a.id"""),
    ("account {0} ({1} {2} {3}): a crypto position or inventory in a fiat currency",
     """SELECT a.id, a.kind, a.currency, a.instrument FROM ledger_account a
         WHERE a.currency = ANY(%(fiat)s) AND (a.kind = 'crypto_inventory' OR a.instrument LIKE 'VA/%%')
         ORDER BY a.id"""),
    ("sell entry {0} ({1}): its request lacks {2}",
     """SELECT e.id, e.reference, k FROM ledger_entry e
          CROSS JOIN unnest(ARRAY['currency', 'amount', 'fiat', 'fiat_amount', 'price']) AS k
         WHERE e.kind = 'sell' AND NOT (e.request ? k) ORDER BY e.id"""),
    ("securities sync mark {0} names no securities posting record (leg {0} is not a customer-instrument leg)",
     """SELECT s.leg_id FROM ledger_securities_sync s
         WHERE NOT EXISTS (SELECT 1 FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id
                            WHERE l.id = s.leg_id AND a.customer_id IS NOT NULL) ORDER BY s.leg_id"""),
]


def ledger_check(*, limit: int = 100) -> list[str]:
    """What is wrong with the ledger; an empty list means healthy. Verifies that every entry sums
    to zero per currency (and has two legs or more), that legs and accounts agree on the currency,
    that each stored balance equals its legs, that no account is overdrawn where that is
    forbidden, that every entry's customer exists and that every securities sync mark names a
    customer-instrument leg (the records themselves are a view over those legs). At most
    ``limit`` problems of each sort are named."""
    problems: list[str] = []
    with connection.cursor() as cursor:
        for message, sql in _CHECKS:
            cursor.execute(f"{sql} LIMIT {int(limit)}", {"non_negative": list(NON_NEGATIVE_KINDS),
                                                          "fiat": list(FIAT_CURRENCIES)})
            problems.extend(message.format(*row) for row in cursor.fetchall())
    return problems


def account_totals_by_kind() -> dict[tuple[str, str], Decimal]:
    """(currency, kind) → total balance; for dashboards and the check command's summary."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for currency, kind, balance in Account.objects.values_list("currency_id", "kind", "balance"):
        totals[(currency, kind)] += balance
    return dict(totals)
