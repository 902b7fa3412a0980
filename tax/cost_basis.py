"""Cost basis: lots, disposals and realised gains per customer and currency (docs/TAX.md).

Pure and exact: ``compute(events, method=...)`` runs the events of ``tax.extraction`` in order
through one pool per currency (a currency's instruments are one pool) and returns the lots with
what is left of them and each disposal or transfer with the lots it consumed.

* ``fifo``: the oldest lot first. ``hifo``: the highest unit cost first (lots of unknown cost
  last; ties oldest first). ``average``: one pooled lot per currency at the running average.
* Costs are fiat with two decimals. Part of a lot takes its share of the lot's remaining cost
  (rounded half to even) and the last part takes exactly what is left, so the cost bases add up
  to the costs acquired, to the cent, and ``gain = proceeds − cost basis`` by construction.
* A lot of unknown cost stays unknown: a disposal consuming any of it reports its known cost
  basis, ``unknown_cost_quantity`` > 0 and no gain (``gain`` None), flagged. A disposal larger
  than the pool (coins whose acquisition the ledger does not show) consumes a lot of unknown
  cost for the shortfall, flagged ``no acquisition found``: no lot ever goes negative.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from tax.extraction import TaxEvent, fiat

METHODS = ("fifo", "hifo", "average")
ZERO = Decimal(0)


@dataclass
class Lot:
    lot_id: str
    event: TaxEvent | None  # None: the average pool or a shortfall
    currency: str
    quantity: Decimal
    cost: Decimal | None  # None: unknown
    remaining: Decimal
    remaining_cost: Decimal | None
    pooled: bool = False  # average method: the lot went into its currency's pool

    @property
    def unit_cost(self) -> Decimal | None:
        return None if self.cost is None or not self.quantity else self.cost / self.quantity


@dataclass(frozen=True)
class Consumed:
    lot_id: str
    quantity: Decimal
    cost: Decimal | None  # None: from a lot of unknown cost


@dataclass
class Disposal:
    """A disposal (``event.kind == "disposal"``) or a transfer out (no proceeds, no gain)."""

    event: TaxEvent
    quantity: Decimal  # coins that left: the move and, fee as cost, its fee
    proceeds: Decimal | None
    cost_basis: Decimal  # the known part
    unknown_cost_quantity: Decimal
    consumed: list[Consumed] = field(default_factory=list)
    flags: tuple[str, ...] = ()

    @property
    def gain(self) -> Decimal | None:
        if self.event.kind != "disposal" or self.proceeds is None or self.unknown_cost_quantity:
            return None
        return self.proceeds - self.cost_basis


@dataclass
class Result:
    method: str
    lots: list[Lot]
    disposals: list[Disposal]
    pools: dict[str, Lot]  # average method: what is left in each currency's pool (known cost)


def _take(lot: Lot, quantity: Decimal) -> Consumed:
    """``quantity`` (≤ lot.remaining) out of the lot, with its share of the remaining cost."""
    if quantity == lot.remaining:
        cost = lot.remaining_cost
    elif lot.remaining_cost is None:
        cost = None
    else:
        cost = fiat(lot.remaining_cost * quantity / lot.remaining)
    lot.remaining -= quantity
    if lot.remaining_cost is not None:
        lot.remaining_cost -= cost
    return Consumed(lot.lot_id, quantity, cost)


class _Pool:
    """The open lots of one currency, in the order the method consumes them."""

    def __init__(self, method: str, currency: str):
        self.method, self.currency = method, currency
        self.fifo: deque[Lot] = deque()
        self.heap: list[tuple[tuple, Lot]] = []
        self.average_quantity = ZERO
        self.average_cost = ZERO
        self.unknown_quantity = ZERO
        self.shortfalls = 0

    def add(self, lot: Lot) -> None:
        if self.method == "fifo":
            self.fifo.append(lot)
        elif self.method == "hifo":
            unit = lot.unit_cost
            key = (1, ZERO, lot.event.at, lot.event.seq) if unit is None else (0, -unit, lot.event.at, lot.event.seq)
            heapq.heappush(self.heap, (key, lot))
        else:
            # Average: the known-cost coins are one pooled lot at their running average; coins of
            # unknown cost are counted apart and leave first (the flag shows at once, and no guess
            # dilutes the known average).
            if lot.cost is None:
                self.unknown_quantity += lot.quantity
            else:
                self.average_quantity += lot.quantity
                self.average_cost += lot.cost
            lot.pooled = True  # its coins are the pool's now
            lot.remaining, lot.remaining_cost = ZERO, (None if lot.cost is None else ZERO)

    def head(self) -> Lot | None:
        if self.method == "fifo":
            while self.fifo and not self.fifo[0].remaining:
                self.fifo.popleft()
            return self.fifo[0] if self.fifo else None
        if self.method == "hifo":
            while self.heap and not self.heap[0][1].remaining:
                heapq.heappop(self.heap)
            return self.heap[0][1] if self.heap else None
        return None

    def consume(self, quantity: Decimal, event: TaxEvent, lots: list[Lot]) -> list[Consumed]:
        taken: list[Consumed] = []
        if self.method == "average":
            part = min(quantity, self.unknown_quantity)
            if part:
                self.unknown_quantity -= part
                taken.append(Consumed(f"pool:{self.currency}:unknown cost", part, None))
                quantity -= part
            part = min(quantity, self.average_quantity)
            if part:
                cost = (self.average_cost if part == self.average_quantity
                        else fiat(self.average_cost * part / self.average_quantity))
                self.average_quantity -= part
                self.average_cost -= cost
                taken.append(Consumed(f"pool:{self.currency}", part, cost))
                quantity -= part
        while quantity > 0:
            lot = self.head()
            if lot is None:
                self.shortfalls += 1
                lot = Lot(f"shortfall:{event.currency}:{event.seq}:{self.shortfalls}", None, event.currency,
                          quantity, None, quantity, None)
                lots.append(lot)
            part = min(quantity, lot.remaining)
            taken.append(_take(lot, part))
            quantity -= part
        return taken


def compute(events: Iterable[TaxEvent], *, method: str) -> Result:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    pools: dict[str, _Pool] = {}
    lots: list[Lot] = []
    disposals: list[Disposal] = []
    for event in events:
        pool = pools.get(event.currency)
        if pool is None:
            pool = pools[event.currency] = _Pool(method, event.currency)
        if event.kind == "acquisition":
            lot = Lot(f"{event.currency}:{event.seq}:{event.reference}", event, event.currency, event.quantity,
                      event.value, event.quantity, event.value)
            lots.append(lot)
            pool.add(lot)
            continue
        quantity = event.quantity + event.fee_quantity
        consumed = pool.consume(quantity, event, lots)
        known = sum((c.cost for c in consumed if c.cost is not None), ZERO)
        unknown = sum((c.quantity for c in consumed if c.cost is None), ZERO)
        flags = list(event.flags)
        if any(c.lot_id.startswith("shortfall:") for c in consumed):
            flags.append("no acquisition found for part of it: cost unknown")
        elif unknown:
            flags.append("consumes coins of unknown cost")
        disposals.append(Disposal(event=event, quantity=quantity, proceeds=event.value, cost_basis=known,
                                  unknown_cost_quantity=unknown, consumed=consumed,
                                  flags=tuple(dict.fromkeys(flags))))
    average_pools = {}
    if method == "average":
        for code, pool in sorted(pools.items()):
            average_pools[code] = Lot(f"pool:{code}", None, code, pool.average_quantity + pool.unknown_quantity,
                                      None if pool.unknown_quantity else pool.average_cost,
                                      pool.average_quantity + pool.unknown_quantity, pool.average_cost)
    return Result(method=method, lots=lots, disposals=disposals, pools=average_pools)
