"""Fiat postings (cash-out, docs/FIAT.md): sell, payment sent, payment on the statement, payment
returned, bank charge. Each is one call of a PL/pgSQL function of ``ledger/sql/0009_fiat.sql``,
idempotent by ``reference`` like every posting of ``ledger.services`` (whose helpers these use).
The hold and release of a fiat withdrawal are ``ledger_hold`` / ``ledger_release`` on the
customer's fiat position ``FIAT/<venue>/<currency>``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from core.errors import DomainError
from ledger.models import FIAT_CURRENCIES, EntryKind, JournalEntry
from ledger.services import _amount, _call, _canon, _entry, _plain, _request, _split
from ledger.types import HoldLine


def fiat_instrument(*, tenant, currency: str) -> str:
    """The customer's fiat cash position on the tenant's books, e.g. FIAT/HAS/HKD."""
    return f"FIAT/{tenant.venue_code}/{currency}"


def _fiat(currency: str) -> str:
    if currency not in FIAT_CURRENCIES:
        raise DomainError("validation_error", f"{currency!r} is not a fiat currency ({', '.join(FIAT_CURRENCIES)}).",
                          field="fiat")
    return currency


def ledger_sell(*, customer, currency: str, amount: Decimal, fiat: str, fiat_amount: Decimal, price: Decimal,
                reference: str, extra: dict | None = None) -> tuple[JournalEntry, list[HoldLine]]:
    """Books a sell in ONE entry of kind ``sell``: the crypto leaves the customer's available
    instruments of ``currency`` largest balance first into the tenant's crypto inventory, and
    ``fiat_amount`` of ``fiat`` goes from the tenant's client-money bank account to the
    customer's available fiat. The entry's ``request`` carries ``currency``, ``amount``,
    ``fiat``, ``fiat_amount`` and ``price`` (canonical decimal strings; the tax records read
    them) plus ``extra``. Returns the entry and the crypto split. ``insufficient_balance``
    changes nothing."""
    amount = _amount(amount)
    fiat_amount = _amount(fiat_amount, "fiat_amount")
    price = _amount(price, "price")
    fiat = _fiat(fiat)
    request = _request("sell", customer=customer.pk, currency=currency, amount=_canon(amount), fiat=fiat,
                       fiat_amount=_canon(fiat_amount), price=_canon(price), **(extra or {}))
    rows = _call("SELECT entry_id, replayed, instrument, amount FROM "
                 "ledger_post_sell(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, amount, fiat, fiat_amount, reference, request])
    entry = JournalEntry.objects.get(pk=rows[0][0])
    return entry, [HoldLine(instrument=instrument, amount=_plain(value)) for _, _, instrument, value in rows]


def ledger_fiat_send(*, customer, currency: str, split: list[HoldLine], fee: Decimal, reference: str) -> JournalEntry:
    """The payment file is out: Dr held (the split: principal + fee) / Cr fiat in transit (principal) /
    Cr fee revenue (fee)."""
    instruments, amounts = _split(split)
    fee = _amount(fee, "fee", zero_ok=True)
    request = _request("fiat_send", customer=customer.pk, currency=_fiat(currency), fee=_canon(fee),
                       split=[[i, _canon(a)] for i, a in zip(instruments, amounts, strict=True)])
    rows = _call("SELECT * FROM ledger_post_fiat_send(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, instruments, amounts, fee, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.FIAT_SEND, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo="")


def ledger_fiat_settle(*, customer, currency: str, amount: Decimal, reference: str) -> JournalEntry:
    """The statement shows the payment: Dr fiat in transit / Cr client-money bank account."""
    amount = _amount(amount)
    request = _request("fiat_settle", customer=customer.pk, currency=_fiat(currency), amount=_canon(amount))
    rows = _call("SELECT * FROM ledger_post_fiat_settle(%s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, amount, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.FIAT_SETTLE, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo="")


def ledger_fiat_return(*, customer, currency: str, amount: Decimal, charge: Decimal, reference: str) -> JournalEntry:
    """The payment came back: Dr fiat in transit (amount) / Cr customer available (amount − charge) /
    Cr client-money bank (the bank's charge)."""
    amount = _amount(amount)
    charge = _amount(charge, "charge", zero_ok=True)
    instrument = fiat_instrument(tenant=customer.tenant, currency=_fiat(currency))
    request = _request("fiat_return", customer=customer.pk, currency=currency, amount=_canon(amount),
                       charge=_canon(charge))
    rows = _call("SELECT * FROM ledger_post_fiat_return(%s, %s, %s, %s, %s, %s, %s, %s::jsonb)",
                 [customer.pk, customer.tenant_id, currency, instrument, amount, charge, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.FIAT_RETURN, tenant_id=customer.tenant_id,
                  customer_id=customer.pk, currency_id=currency, request=json.loads(request), memo="")


def ledger_bank_charge(*, tenant, currency: str, amount: Decimal, reference: str) -> JournalEntry:
    """A bank charge the tenant bears: Dr bank charges (expense) / Cr client-money bank account."""
    amount = _amount(amount)
    request = _request("bank_charge", tenant=tenant.pk, currency=_fiat(currency), amount=_canon(amount))
    rows = _call("SELECT * FROM ledger_post_bank_charge(%s, %s, %s, %s, %s::jsonb)",
                 [tenant.pk, currency, amount, reference, request])
    return _entry(rows, reference=reference, kind=EntryKind.BANK_CHARGE, tenant_id=tenant.pk, customer_id=None,
                  currency_id=currency, request=json.loads(request), memo="")
