"""Ledger postings. Every service is one atomic move, keyword-only, idempotent by ``reference``:
the same reference twice posts once and returns the first result; the same reference with other
arguments raises ``DomainError("ledger_reference_conflict")`` (409).

Each posting is one call of a PL/pgSQL function (``ledger/sql/``): it opens the entry (or finds
the replay), locks the accounts in ascending id order, checks balances and inserts the legs; the
leg trigger moves the balances (securities posting records are a view over the legs). Refusals come back as
SQLSTATE ``LDG00`` and are raised here as ``DomainError`` with nothing changed.
"""

from __future__ import annotations

import json
from decimal import Decimal

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils import timezone

from core.errors import DomainError
from ledger.models import EntryKind, JournalEntry
from ledger.types import Deposit, FeeBooking, HoldLine, Posted, Settlement

__all__ = [
    "HoldLine",
    "ledger_deposit",
    "ledger_hold",
    "ledger_release",
    "ledger_settle",
    "ledger_settle_batch",
    "ledger_deposit_batch",
    "Settlement",
    "Deposit",
    "Posted",
    "ledger_fee_reserve",
    "ledger_fee_release",
    "ledger_fee_book",
    "ledger_fee_book_batch",
    "FeeBooking",
    "ledger_transfer",
    "ledger_p2p_escrow",
    "ledger_p2p_release",
    "ledger_p2p_refund",
    "securities_mark_synced",
]

TRANSFER_KINDS = (EntryKind.MAIN_TOPUP.value, EntryKind.SUB_TO_MAIN.value)


def _amount(value, field: str = "amount", *, zero_ok: bool = False) -> Decimal:
    """An exact amount: a Decimal (or int), finite, > 0 (or >= 0). Floats are refused."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise DomainError("invalid_amount", f"The {field} must be a Decimal, not {type(value).__name__}.",
                          field=field)
    value = Decimal(value)
    if not value.is_finite():
        raise DomainError("invalid_amount", f"The {field} is not a finite number.", field=field)
    if value < 0 or (value == 0 and not zero_ok):
        raise DomainError("amount_not_positive", f"The {field} must be greater than zero.", field=field)
    return value


def _plain(value: Decimal) -> Decimal:
    """1.000000000000000000 → 1, 0.500 → 0.5, never an exponent (100, not 1E+2)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _canon(value: Decimal) -> str:
    """The amount as a canonical string ("1.50" and "1.5" are the same request)."""
    return format(value.normalize(), "f") if value else "0"


def _split(split: list[HoldLine]) -> tuple[list[str], list[Decimal]]:
    """The split merged per instrument, in the order given."""
    if not split:
        raise DomainError("validation_error", "The split is empty.", field="split")
    merged: dict[str, Decimal] = {}
    for line in split:
        if isinstance(line, dict):
            line = HoldLine.from_dict(line)
        merged[line.instrument] = merged.get(line.instrument, Decimal(0)) + _amount(line.amount, "split")
    return list(merged), list(merged.values())


def _request(op: str, **fields) -> str:
    return json.dumps({"op": op, **fields}, sort_keys=True)


def _call(sql: str, params: list) -> list[tuple]:
    """Runs one posting function atomically; LDG00 refusals become DomainError.

    Inside a caller's transaction the call runs in ``transaction.atomic()`` (a savepoint), so a
    refusal rolls back the posting and nothing else. Outside any transaction, the call is a single
    SQL statement in autocommit mode, which PostgreSQL runs as one transaction of its own: the
    same atomicity as ``atomic()`` without the BEGIN and COMMIT round trips."""
    conn = connections[DEFAULT_DB_ALIAS]  # once: every access through django.db.connection is a lookup
    try:
        if conn.in_atomic_block or not conn.get_autocommit():
            with transaction.atomic(using=conn.alias):
                return _fetch(conn, sql, params)
        return _fetch(conn, sql, params)
    except DatabaseError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) == "LDG00":
            code = cause.diag.message_primary
            raise DomainError(code, cause.diag.message_detail or None, field=cause.diag.message_hint or None) from None
        raise


def _fetch(conn, sql: str, params: list) -> list[tuple]:
    """Executes the posting call with server-side binding (a psycopg ``Cursor`` rather than the
    ``ClientCursor`` Django uses), so psycopg prepares it after a few calls and the plan is reused
    on the connection. Errors become django.db exceptions as with any Django cursor.

    When queries are logged (DEBUG, ``django_assert_num_queries``) or execute wrappers are
    installed, the call goes through Django's cursor wrapper so it is seen and counted. Otherwise
    (production) one psycopg cursor per connection is kept and reused: no wrapper objects, no new
    cursor per posting."""
    conn.ensure_connection()
    if conn.queries_logged or conn.execute_wrappers:
        with conn.wrap_database_errors:
            raw = psycopg.Cursor(conn.connection)
        wrapper = CursorDebugWrapper if conn.queries_logged else CursorWrapper
        with wrapper(raw, conn) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    conn.validate_no_broken_transaction()
    pg = conn.connection
    with conn.wrap_database_errors:
        cursor = getattr(pg, "_ledger_cursor", None)
        if cursor is None or cursor.closed:
            cursor = pg._ledger_cursor = psycopg.Cursor(pg)
        cursor.execute(sql, params)
        return cursor.fetchall()


def _entry(rows: list[tuple], **fields) -> JournalEntry:
    """The JournalEntry a posting function reported: built from what was just written, or read
    back when the call was a replay."""
    entry_id, created_at, replayed = rows[0]
    if replayed:
        return JournalEntry.objects.get(pk=entry_id)
    entry = JournalEntry(id=entry_id, created_at=created_at, **fields)
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def ledger_deposit(*, customer, currency: str, quote: str, amount: Decimal, reference: str,
                   memo: str = "", cost: Decimal | None = None, cost_fiat: str = "") -> JournalEntry:
    """Credits the customer's available balance on instrument VA/<venue>/<currency><quote>:
    Dr tenant sub-account / Cr customer available. For staff bookings and demo seeding.

    ``cost`` (with ``cost_fiat``, e.g. "HKD"): what the customer paid for the coins, as staff
    stated it; kept in the entry's request so the tax records (tax/) read it from the ledger.
    Absent, the request is exactly what it always was (replays of older references match)."""
    amount = _amount(amount)
    extra = {}
    if cost is not None:
        cost = _amount(cost, "cost", zero_ok=True)
        if not cost_fiat or not str(cost_fiat).isalpha() or len(cost_fiat) != 3:
            raise DomainError("validation_error", "A cost needs its fiat currency (e.g. HKD).", field="cost_fiat")
        extra = {"cost": _canon(cost), "cost_fiat": str(cost_fiat).upper()}
    request = _request("deposit", customer=customer.pk, currency=currency, quote=quote, amount=_canon(amount),
                       **extra)
    rows = _call("SELECT * FROM ledger_post_deposit(%s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, currency, quote, amount, reference, memo, request])
    return _entry(rows, reference=reference, kind=EntryKind.DEPOSIT, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo=memo)


def ledger_hold(*, customer, currency: str, amount: Decimal, reference: str) -> list[HoldLine]:
    """Moves ``amount`` from available to held, taking the customer's instruments of the currency
    largest available balance first, then the next; equal balances go by instrument code
    ascending. Returns the split (waterfall order). ``insufficient_balance`` changes nothing."""
    amount = _amount(amount)
    request = _request("hold", customer=customer.pk, currency=currency, amount=_canon(amount))
    rows = _call("SELECT instrument, amount FROM ledger_post_hold(%s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, amount, reference, request])
    return [HoldLine(instrument=instrument, amount=_plain(value)) for instrument, value in rows]


def ledger_release(*, customer, currency: str, split: list[HoldLine], reference: str) -> JournalEntry:
    """Gives a hold back: held → available on exactly the instruments (and amounts) of ``split``."""
    instruments, amounts = _split(split)
    request = _request("release", customer=customer.pk, currency=currency,
                       split=[[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)])
    rows = _call("SELECT * FROM ledger_post_release(%s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, instruments, amounts, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.RELEASE, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo="")


def ledger_settle(*, customer, currency: str, split: list[HoldLine], customer_fee: Decimal,
                  reference: str) -> JournalEntry:
    """Completes a withdrawal: Dr held (the split: principal + customer fee) / Cr tenant
    sub-account (the principal leaves) / Cr fee revenue (customer_fee)."""
    instruments, amounts = _split(split)
    customer_fee = _amount(customer_fee, "customer_fee", zero_ok=True)
    request = _settle_request(customer.pk, currency, instruments, amounts, customer_fee)
    rows = _call("SELECT * FROM ledger_post_settle(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, instruments, amounts, customer_fee, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.SETTLE, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo="")


def _settle_request(customer_id: int, currency: str, instruments: list[str], amounts: list[Decimal],
                    customer_fee: Decimal) -> str:
    return _request("settle", customer=customer_id, currency=currency, customer_fee=_canon(customer_fee),
                    split=[[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)])


def _batch(function: str, items: list[dict]) -> list[Posted]:
    rows = _call(f"SELECT reference, entry_id, replayed FROM {function}(%s::jsonb)",
                 [json.dumps(items, separators=(",", ":"))])
    return [Posted(reference=ref, entry_id=entry_id, replayed=replayed) for ref, entry_id, replayed in rows]


def ledger_settle_batch(*, settlements: list[Settlement]) -> list[Posted]:
    """Many ``ledger_settle`` in one call and one commit (the sweep's completions): each item posts
    the entry ``ledger_settle`` would (same legs, reference and request, so the two replay each
    other). All or nothing: one refused item refuses the batch. Returns one ``Posted`` per item,
    in order."""
    items = []
    for s in settlements:
        instruments, amounts = _split(s.split)
        fee = _amount(s.customer_fee, "customer_fee", zero_ok=True)
        items.append({"customer": s.customer.pk, "tenant": s.customer.tenant_id, "currency": s.currency,
                      "split": [[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)],
                      "customer_fee": _canon(fee), "reference": s.reference,
                      "request": json.loads(_settle_request(s.customer.pk, s.currency, instruments, amounts, fee))})
    return _batch("ledger_post_settle_batch", items) if items else []


def ledger_deposit_batch(*, deposits: list[Deposit]) -> list[Posted]:
    """Many ``ledger_deposit`` in one call and one commit (bulk deposits): each item posts the
    entry ``ledger_deposit`` would; all or nothing. Returns one ``Posted`` per item, in order."""
    items = []
    for d in deposits:
        amount = _amount(d.amount)
        items.append({"customer": d.customer.pk, "currency": d.currency, "quote": d.quote, "amount": _canon(amount),
                      "reference": d.reference, "memo": d.memo,
                      "request": {"op": "deposit", "customer": d.customer.pk, "currency": d.currency,
                                  "quote": d.quote, "amount": _canon(amount)}})
    return _batch("ledger_post_deposit_batch", items) if items else []


def _fee_move(kind: str, *, tenant, currency: str, amount: Decimal, reference: str) -> JournalEntry:
    amount = _amount(amount)
    request = _request(kind, tenant=tenant.pk, currency=currency, amount=_canon(amount))
    rows = _call("SELECT * FROM ledger_post_fee_move(%s, %s, %s, %s, %s, %s::jsonb)",
                 [tenant.pk, currency, amount, kind, reference, request])
    return _entry(rows, reference=reference, kind=kind, tenant_id=tenant.pk, customer_id=None,
                  currency_id=currency, request=json.loads(request), memo="")


def ledger_fee_reserve(*, tenant, currency: str, amount: Decimal, reference: str) -> JournalEntry:
    """Reserves an estimated network fee: main account → main reserved. Refused with
    ``insufficient_main_account_fees`` (409) when the main account cannot cover it."""
    return _fee_move(EntryKind.FEE_RESERVE, tenant=tenant, currency=currency, amount=amount, reference=reference)


def ledger_fee_release(*, tenant, currency: str, amount: Decimal, reference: str) -> JournalEntry:
    """Gives a fee reserve back: main reserved → main account."""
    return _fee_move(EntryKind.FEE_RELEASE, tenant=tenant, currency=currency, amount=amount, reference=reference)


def ledger_fee_book(*, tenant, currency: str, reserved: Decimal, actual: Decimal, reference: str) -> JournalEntry:
    """Books the network fee actually paid: the reserve (``reserved``, may be 0 when it was already
    released) goes back to the main account and ``actual`` leaves it for the network-fee expense.

    The fee was really paid on chain, so this is never refused for want of funds: when the main
    account cannot cover ``actual``, it goes to zero and the rest is credited to the tenant's
    ``main_shortfall`` account, which the next ``ledger_transfer`` into the main account repays
    first. ``tenant_fee_reserve`` shows the shortfall."""
    reserved = _amount(reserved, "reserved", zero_ok=True)
    actual = _amount(actual, "actual", zero_ok=True)
    request = _fee_book_request(tenant.pk, currency, reserved, actual)
    rows = _call("SELECT * FROM ledger_post_fee_book(%s, %s, %s, %s, %s, %s::jsonb)",
                 [tenant.pk, currency, reserved, actual, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.FEE_BOOK, tenant_id=tenant.pk, customer_id=None,
                  currency_id=currency, request=json.loads(request), memo="")


def _fee_book_request(tenant_id: int, currency: str, reserved: Decimal, actual: Decimal) -> str:
    return _request("fee_book", tenant=tenant_id, currency=currency, reserved=_canon(reserved), actual=_canon(actual))


def ledger_fee_book_batch(*, bookings: list[FeeBooking]) -> list[Posted]:
    """Many ``ledger_fee_book`` in one call (the sweep's completions): each item posts the entry
    ``ledger_fee_book`` would (same legs, reference and request, so the two replay each other).
    Booked by tenant and currency, in the given order within each (a booking's shortfall depends
    on the main account after the one before). All or nothing. Returns one ``Posted`` per item,
    in the order given."""
    items = []
    for b in bookings:
        reserved = _amount(b.reserved, "reserved", zero_ok=True)
        actual = _amount(b.actual, "actual", zero_ok=True)
        items.append({"tenant": b.tenant.pk, "currency": b.currency, "reserved": _canon(reserved),
                      "actual": _canon(actual), "reference": b.reference,
                      "request": json.loads(_fee_book_request(b.tenant.pk, b.currency, reserved, actual))})
    if not items:
        return []
    posted = {p.reference: p for p in _batch("ledger_post_fee_book_batch", items)}
    return [posted[b.reference] for b in bookings]


def ledger_transfer(*, tenant, currency: str, amount: Decimal, kind: str, reference: str) -> JournalEntry:
    """Funds the main account: ``kind="main_topup"`` from outside (Cr external) or
    ``kind="sub_to_main"`` from the sub-account (refused with ``insufficient_balance`` if the
    sub-account cannot cover it). An open main-account shortfall is repaid first."""
    if kind not in TRANSFER_KINDS:
        raise DomainError("validation_error", f"kind must be one of {', '.join(TRANSFER_KINDS)}.", field="kind")
    amount = _amount(amount)
    request = _request(kind, tenant=tenant.pk, currency=currency, amount=_canon(amount))
    rows = _call("SELECT * FROM ledger_post_transfer(%s, %s, %s, %s, %s, %s::jsonb)",
                 [tenant.pk, currency, amount, kind, reference, request])
    return _entry(rows, reference=reference, kind=kind, tenant_id=tenant.pk, customer_id=None,
                  currency_id=currency, request=json.loads(request), memo="")


# --- P2P escrow (p2p/): the seller's held balance under the trade's reference is the escrow ------

def ledger_p2p_escrow(*, seller, currency: str, amount: Decimal, reference: str, trade_id: int) -> list[HoldLine]:
    """Locks the seller's coins for a trade: available → held, largest instrument first (the
    ``ledger_hold`` waterfall), as an entry of kind ``p2p_escrow``. Returns the split, which the
    trade stores and hands back to ``ledger_p2p_release`` / ``ledger_p2p_refund``."""
    amount = _amount(amount)
    request = _request("p2p_escrow", trade=trade_id, seller=seller.pk, currency=currency, amount=_canon(amount))
    rows = _call("SELECT instrument, amount FROM ledger_post_p2p_escrow(%s, %s, %s, %s, %s, %s::jsonb)",
                 [seller.pk, seller.tenant_id, currency, amount, reference, request])
    return [HoldLine(instrument=instrument, amount=_plain(value)) for instrument, value in rows]


def ledger_p2p_release(*, seller, buyer, currency: str, fiat: str, split: list[HoldLine], amount: Decimal,
                       fee: Decimal, fee_payer: str, price: Decimal, fiat_amount: Decimal, trade_id: int,
                       reference: str, refund_reference: str) -> JournalEntry:
    """Pays a trade's escrow out (the seller's confirmation or a staff ``resolved_release``), one
    entry of kind ``p2p_release``: Dr the seller's held (the split) / Cr the buyer's available on
    ``VA/<venue>/<currency><fiat>`` (``amount``, what the buyer receives) / Cr fee revenue (``fee``).
    The split must equal amount + fee. Refused (``ledger_reference_conflict``) once
    ``refund_reference`` was posted: an escrow is paid out once.

    ``request`` (JournalEntry.request) is the agreed contract with the tax records: ``seller``,
    ``buyer`` (customer ids), ``currency``, ``amount``, ``fee``, ``fee_payer`` ("seller" | "buyer"),
    ``fiat``, ``price`` (per unit, in fiat) and ``fiat_amount``, as canonical decimal strings."""
    instruments, amounts = _split(split)
    amount = _amount(amount)
    fee = _amount(fee, "fee", zero_ok=True)
    if fee_payer not in ("seller", "buyer"):
        raise DomainError("validation_error", "fee_payer is seller or buyer.", field="fee_payer")
    request = _request("p2p_release", trade=trade_id, seller=seller.pk, buyer=buyer.pk, currency=currency,
                       amount=_canon(amount), fee=_canon(fee), fee_payer=fee_payer, fiat=fiat,
                       price=_canon(_amount(price, "price")), fiat_amount=_canon(_amount(fiat_amount, "fiat_amount")),
                       split=[[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)])
    rows = _call("SELECT * FROM ledger_post_p2p_release(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [seller.pk, buyer.pk, seller.tenant_id, currency, instruments, amounts, fiat, amount, fee, reference,
                  refund_reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.P2P_RELEASE, tenant_id=seller.tenant_id,
                  customer_id=seller.pk, currency_id=currency, request=json.loads(request), memo="")


def ledger_p2p_refund(*, seller, currency: str, split: list[HoldLine], trade_id: int, reason: str, reference: str,
                      release_reference: str) -> JournalEntry:
    """Gives a trade's escrow back to the seller (cancelled, expired, ``resolved_refund``): held →
    available on exactly the split, kind ``p2p_refund``. Refused once ``release_reference`` was
    posted."""
    instruments, amounts = _split(split)
    request = _request("p2p_refund", trade=trade_id, seller=seller.pk, currency=currency, reason=reason,
                       split=[[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)])
    rows = _call("SELECT * FROM ledger_post_p2p_refund(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [seller.pk, seller.tenant_id, currency, instruments, amounts, reference, release_reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.P2P_REFUND, tenant_id=seller.tenant_id,
                  customer_id=seller.pk, currency_id=currency, request=json.loads(request), memo="")


def securities_mark_synced(*, record_ids: list[int], actor) -> int:
    """Marks securities posting records as booked in the securities account, by ``actor``.
    Records already synced are left as they were; returns how many were marked now.

    One statement: a ``SecuritiesSync`` row per record that exists (a customer-instrument leg)
    and is not yet marked; a concurrent marking of the same record counts once."""
    if actor is None or not getattr(actor, "pk", None):
        raise DomainError("permission_denied", "Marking records synced needs a staff user.")
    ids = sorted({int(i) for i in record_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_securities_sync (leg_id, synced_at, synced_by_id) "
            "SELECT leg_id, %s, %s FROM ledger_securities_posting WHERE leg_id = ANY(%s) AND synced_at IS NULL "
            "ORDER BY leg_id ON CONFLICT (leg_id) DO NOTHING",
            [timezone.now(), actor.pk, ids])
        return cursor.rowcount
