"""Values the ledger hands to its callers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class HoldLine:
    """One line of a hold's split: how much was held on which instrument. Stored by the caller
    (``as_dict``) and given back to ``ledger_release`` / ``ledger_settle`` (``from_dict``)."""

    instrument: str
    amount: Decimal

    def as_dict(self) -> dict:
        return {"instrument": self.instrument, "amount": format(self.amount.normalize(), "f")}

    @classmethod
    def from_dict(cls, data: dict) -> HoldLine:
        return cls(instrument=str(data["instrument"]), amount=Decimal(str(data["amount"])))
