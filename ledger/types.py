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


@dataclass(frozen=True)
class Settlement:
    """One item of ``ledger_settle_batch``: the arguments of one ``ledger_settle``."""

    customer: object  # a customers.Customer
    currency: str
    split: list
    customer_fee: Decimal
    reference: str


@dataclass(frozen=True)
class FeeBooking:
    """One item of ``ledger_fee_book_batch``: the arguments of one ``ledger_fee_book``."""

    tenant: object  # a customers.Tenant
    currency: str
    reserved: Decimal
    actual: Decimal
    reference: str


@dataclass(frozen=True)
class Deposit:
    """One item of ``ledger_deposit_batch``: the arguments of one ``ledger_deposit``."""

    customer: object  # a customers.Customer
    currency: str
    quote: str
    amount: Decimal
    reference: str
    memo: str = ""


@dataclass(frozen=True)
class Posted:
    """What a batch posted for one item: its entry, and whether it was a replay (posted before)."""

    reference: str
    entry_id: int
    replayed: bool
