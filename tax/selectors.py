"""Reads for the tax records: the customer's postings from the ledger, which withdrawals went to
the customer's own address, and the reports (API and admin)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal

from django.db import connection

from core.errors import DomainError
from ledger.models import CUSTOMER_KINDS
from tax.extraction import Posting
from tax.models import TaxReport, TaxReportFile

# One statement: every entry that moved the customer's coins (any instrument, available or
# held), with the customer's net change. Found through the customer's accounts (the leg index
# ledger_leg_account_entry), so entries naming someone else (a P2P release names both sides)
# count too. Customer accounts are credit-normal: a credit (negative leg) is coins in.
_POSTINGS_SQL = """
SELECT e.id, e.kind, e.reference, e.created_at, e.currency, e.request::text, -SUM(l.amount) AS delta
FROM ledger_account a
JOIN ledger_leg l ON l.account_id = a.id
JOIN ledger_entry e ON e.id = l.entry_id
WHERE a.customer_id = %s AND a.kind = ANY(%s) AND e.created_at < %s
GROUP BY e.id
HAVING SUM(l.amount) <> 0
ORDER BY e.created_at, e.id
"""


def customer_postings(*, customer_id: int, before: datetime) -> list[Posting]:
    """The customer's postings before ``before`` (a report needs every acquisition since the
    start, not only the period's), oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(_POSTINGS_SQL, [customer_id, list(CUSTOMER_KINDS), before])
        rows = cursor.fetchall()
    return [Posting(entry_id=entry_id, kind=kind, reference=reference, created_at=created_at, currency=currency,
                    request=json.loads(request), delta=Decimal(delta))
            for entry_id, kind, reference, created_at, currency, request, delta in rows]


_SETTLE_REFERENCE = re.compile(r"^withdrawal:(\d+):settle$")

OWN_ADDRESS_METHODS = ("signature", "micropayment")


def _same_person(travel_rule: dict | None, customer) -> bool:
    """The travel-rule data names the customer as the beneficiary: the originator is this customer
    (their account number) and the beneficiary bears the originator's name."""
    if not isinstance(travel_rule, dict):
        return False
    originator, beneficiary = travel_rule.get("originator") or {}, travel_rule.get("beneficiary") or {}

    def name(part):
        return " ".join(str(part.get("name") or "").split()).casefold()

    return (str(originator.get("account") or "") == customer.reference and bool(name(beneficiary))
            and name(beneficiary) == name(originator))


def own_withdrawal_refs(*, customer, postings: list[Posting]) -> frozenset[str]:
    """The settle references of withdrawals to the customer's own address: an address proven by a
    signed message or a micropayment from it, or travel-rule data naming the customer as the
    beneficiary. Anything else (an address accepted on evidence alone, no travel-rule data) is a
    third party's, so a disposal: the customer can show otherwise to staff."""
    from withdrawals.models import WithdrawalOrder

    ids = {}
    for posting in postings:
        match = _SETTLE_REFERENCE.match(posting.reference) if posting.kind == "settle" else None
        if match:
            ids[int(match.group(1))] = posting.reference
    if not ids:
        return frozenset()
    own = set()
    orders = (WithdrawalOrder.objects.filter(pk__in=list(ids), customer=customer)
              .select_related("address").only("id", "travel_rule", "address__verification_method",
                                               "address__verified_at"))
    for order in orders:
        proven = order.address.verification_method in OWN_ADDRESS_METHODS and order.address.verified_at is not None
        if proven or _same_person(order.travel_rule, customer):
            own.add(ids[order.pk])
    return frozenset(own)


def tax_report_get_for_customer(*, customer, report_id: int) -> TaxReport:
    """The customer's own report; another customer's is not found (404)."""
    report = (TaxReport.objects.filter(pk=report_id, customer=customer)
              .prefetch_related("files").first())
    if report is None:
        raise DomainError("not_found", "No such tax report.")
    return report


def tax_report_file_get(*, report: TaxReport, kind: str) -> TaxReportFile:
    row = TaxReportFile.objects.filter(report=report, kind=kind).first()
    if row is None:
        raise DomainError("not_found", "No such file (the report is not ready, or no such kind).")
    return row
