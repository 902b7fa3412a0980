"""AML screening of a fiat beneficiary: the holder's name and the countries (bank, customer)
against the risk list's name and country entries (approvals ``RiskListEntry``, kept by
Compliance). Same outcomes as address screening: sanctions or severe → reject; high/medium →
alert (the Compliance step applies); low → accept with the hit recorded."""

from __future__ import annotations

from approvals.models import RiskListEntry
from approvals.screening import ACCEPT, ALERT, REJECT, ScreeningResult
from customers.names import name_normalize


def fiat_screen(*, name: str, countries: list[str]) -> ScreeningResult:
    wanted = name_normalize(name)
    entries = []
    for entry in RiskListEntry.objects.filter(active=True, kind__in=["name", "country"]).order_by("id"):
        if entry.kind == "name" and name_normalize(entry.address) == wanted:
            entries.append(entry)
        elif entry.kind == "country" and entry.address.upper() in {c.upper() for c in countries if c}:
            entries.append(entry)
    hits = [{"id": e.pk, "kind": e.kind, "value": e.address, "category": e.category, "level": e.level}
            for e in entries]
    if not entries:
        return ScreeningResult(ACCEPT, "No risk-list match for the beneficiary.", [], "risk_list")
    describe = "; ".join(f"{e.kind} {e.address}: {e.get_category_display()} ({e.level})" for e in entries)
    if any(e.category == "sanctions" or e.level == "severe" for e in entries):
        return ScreeningResult(REJECT, f"Beneficiary on the risk list: {describe}.", hits, "risk_list")
    if any(e.level in ("high", "medium") for e in entries):
        return ScreeningResult(ALERT, f"Beneficiary on the risk list: {describe}.", hits, "risk_list")
    return ScreeningResult(ACCEPT, f"Low-risk match recorded: {describe}.", hits, "risk_list")
