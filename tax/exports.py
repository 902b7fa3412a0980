"""The report's files, byte for byte the same for the same inputs: rows in posting order (time,
then entry id), decimals written plainly, times in UTC, no generation time, report number or
random id anywhere, and the PDF's metadata fixed (docs/TAX.md, "Files")."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.template.loader import render_to_string

from tax.cost_basis import Disposal, Result

ZERO = Decimal(0)


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive
    label: str  # "2026-01-01 – 2026-12-31"

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


def qty(value: Decimal | None) -> str:
    if value is None:
        return ""
    value = value.normalize()
    return format(value, "f") if value else "0"


def money(value: Decimal | None) -> str:
    return "" if value is None else format(value.quantize(Decimal("0.01")), "f")


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv(header: list[str], rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def lots_csv(result: Result) -> bytes:
    """Every lot acquired up to the end of the period and what is left of it (average method:
    the lots went into their currency's pool; one ``pool`` row per currency tells what is left)."""
    def rows():
        for lot in result.lots:
            event = lot.event
            yield [lot.lot_id, lot.currency, when(event.at) if event else "", event.reference if event else "",
                   event.source if event else "shortfall", qty(lot.quantity), money(lot.cost),
                   "" if lot.unit_cost is None else money(lot.unit_cost),
                   "pooled" if lot.pooled else qty(lot.remaining),
                   "pooled" if lot.pooled else money(lot.remaining_cost),
                   "; ".join(event.flags) if event else "no acquisition found: cost unknown"]
        for pool in result.pools.values():
            yield [pool.lot_id, pool.currency, "", "", "average pool", qty(pool.quantity), money(pool.cost), "",
                   qty(pool.remaining), money(pool.remaining_cost), ""]
    return _csv(["lot", "currency", "acquired_at", "reference", "source", "quantity", "cost", "unit_cost",
                 "remaining_quantity", "remaining_cost", "flags"], rows())


def _consumed(disposal: Disposal) -> str:
    return " | ".join(f"{c.lot_id} {qty(c.quantity)} @ {money(c.cost) if c.cost is not None else 'unknown'}"
                      for c in disposal.consumed)


def gains_csv(result: Result, period: Period) -> bytes:
    """Each disposal (and transfer out) of the period: proceeds, cost basis, gain, lots consumed."""
    def rows():
        for d in result.disposals:
            if d.event.at not in period:
                continue
            yield [when(d.event.at), d.event.reference, d.event.currency, d.event.kind, d.event.source,
                   qty(d.event.quantity), qty(d.event.fee_quantity) if d.event.fee_quantity else "",
                   money(d.event.fee_value), money(d.proceeds) if d.event.kind == "disposal" else "",
                   money(d.cost_basis), qty(d.unknown_cost_quantity) if d.unknown_cost_quantity else "",
                   money(d.gain), _consumed(d), "; ".join(d.flags)]
    return _csv(["disposed_at", "reference", "currency", "kind", "source", "quantity", "fee_quantity",
                 "fee_value", "proceeds", "cost_basis", "unknown_cost_quantity", "gain", "lots_consumed", "flags"],
                rows())


KOINLY_HEADER = ["Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
                 "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash"]


def koinly_csv(result: Result, fiat: str) -> bytes:
    """Koinly's universal format, every move up to the end of the period (Koinly computes its own
    cost basis from the whole history). Sells and P2P trades are sent coins / received fiat (or
    the reverse); deposits carry their cost as net worth; transfers out are plain withdrawals
    Koinly matches with the customer's own wallet."""
    events = sorted([*(lot.event for lot in result.lots if lot.event is not None),
                     *(d.event for d in result.disposals)], key=lambda e: (e.at, e.seq, e.kind))
    def rows():
        for e in events:
            date = e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            fee = qty(e.fee_quantity) if e.fee_quantity else ""
            fee_currency = e.currency if e.fee_quantity else ""
            worth = money(e.value)
            note = "; ".join((e.source, *e.flags))
            if e.kind == "acquisition" and e.source == "p2p purchase" and e.value is not None:
                yield [date, money(e.value), fiat, qty(e.quantity), e.currency, "", "", worth, fiat if worth else "",
                       "", note, e.reference]
            elif e.kind == "acquisition":
                yield [date, "", "", qty(e.quantity), e.currency, "", "", worth, fiat if worth else "", "", note,
                       e.reference]
            elif e.source in ("sell", "p2p sale") and e.value is not None:
                yield [date, qty(e.quantity), e.currency, money(e.value), fiat, fee, fee_currency, worth, fiat, "",
                       note, e.reference]
            elif e.source == "fee":
                yield [date, qty(e.quantity), e.currency, "", "", "", "", worth, fiat if worth else "", "cost",
                       note, e.reference]
            else:  # a withdrawal (own address: a transfer Koinly matches) or an unrecognised move
                yield [date, qty(e.quantity), e.currency, "", "", fee, fee_currency, worth, fiat if worth else "",
                       "", note, e.reference]
    return _csv(KOINLY_HEADER, rows())


def summary(result: Result, period: Period) -> dict:
    """Totals per currency for the period (strings): what the API and the PDF show."""
    totals: dict[str, dict] = {}
    for d in result.disposals:
        if d.event.at not in period:
            continue
        row = totals.setdefault(d.event.currency, {"disposals": 0, "transfers": 0, "proceeds": ZERO,
                                                   "cost_basis": ZERO, "gain": ZERO, "flagged": 0})
        if d.event.kind == "transfer":
            row["transfers"] += 1
        else:
            row["disposals"] += 1
            if d.gain is None:
                row["flagged"] += 1
            else:
                row["proceeds"] += d.proceeds
                row["cost_basis"] += d.cost_basis
                row["gain"] += d.gain
    for lot in result.lots:
        if lot.event is not None and lot.event.at in period:
            row = totals.setdefault(lot.currency, {"disposals": 0, "transfers": 0, "proceeds": ZERO,
                                                   "cost_basis": ZERO, "gain": ZERO, "flagged": 0})
            row["acquisitions"] = row.get("acquisitions", 0) + 1
            if lot.cost is None:
                row["unknown_cost_acquisitions"] = row.get("unknown_cost_acquisitions", 0) + 1
    out = {}
    for code in sorted(totals):
        row = totals[code]
        out[code] = {"acquisitions": row.get("acquisitions", 0),
                     "unknown_cost_acquisitions": row.get("unknown_cost_acquisitions", 0),
                     "disposals": row["disposals"], "transfers": row["transfers"],
                     "flagged_disposals": row["flagged"], "proceeds": money(row["proceeds"]),
                     "cost_basis": money(row["cost_basis"]), "gain": money(row["gain"])}
    return out


PDF_FLAGGED_ROWS = 50  # the rest are in the gains CSV


def statement_pdf(*, result: Result, period: Period, totals: dict, customer_reference: str, fiat: str,
                  method_label: str, fee_label: str, fingerprints: dict[str, str]) -> bytes:
    """The statement: the totals, the flagged disposals (the first few), and the SHA-256 of each
    CSV so the accountant can tie the detail to it. One page or two whatever the activity: the
    detail lives in the CSVs. Rendered by WeasyPrint with fixed metadata (no creation date)."""
    import weasyprint

    flagged = [d for d in result.disposals if d.event.at in period and d.event.kind == "disposal" and d.gain is None]
    html = render_to_string("tax/statement.html", {
        "customer": customer_reference, "period": period.label, "fiat": fiat, "method": method_label,
        "fee_as": fee_label, "totals": totals,
        "flagged": [{"at": when(d.event.at), "reference": d.event.reference, "currency": d.event.currency,
                     "quantity": qty(d.event.quantity), "flags": "; ".join(d.flags)}
                    for d in flagged[:PDF_FLAGGED_ROWS]],
        "flagged_more": max(0, len(flagged) - PDF_FLAGGED_ROWS),
        "fingerprints": sorted(fingerprints.items()),
    })
    return weasyprint.HTML(string=html).write_pdf()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
