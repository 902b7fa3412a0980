"""CSV export of securities posting records (what the securities account must book)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from ledger.models import SecuritiesPosting

CSV_COLUMNS = ["record_id", "created_at", "reference", "customer", "instrument", "currency", "position",
               "quantity", "synced_at"]


def securities_csv(records: Iterable[SecuritiesPosting]) -> str:
    """One line per record: the combined instrument code, the signed quantity (+ into the
    customer's position, − out of it), the entry reference. Amounts are exact decimal strings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in records:
        writer.writerow([
            r.leg_id, r.created_at.isoformat(), r.reference, r.customer.reference, r.instrument, r.currency_id,
            r.account_kind, format(r.quantity.normalize(), "f"), r.synced_at.isoformat() if r.synced_at else "",
        ])
    return out.getvalue()
