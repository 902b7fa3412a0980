"""The worked example of docs/TAX.md as in-memory ledger postings (the ``sell`` and
``p2p_release`` kinds are posted by the fiat and P2P apps: their shape is the agreed contract)."""

from datetime import UTC, datetime
from decimal import Decimal

from tax.extraction import Posting
from tax.prices import PriceHistory

CUSTOMER = 1
OTHER = 99
D = Decimal


def at(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


def deposit(entry_id: int, when: datetime, amount: str, cost: str | None = None, fiat: str = "HKD") -> Posting:
    request = {"op": "deposit", "customer": CUSTOMER, "currency": "ETH", "quote": "HKD", "amount": amount}
    if cost is not None:
        request.update(cost=cost, cost_fiat=fiat)
    return Posting(entry_id, "deposit", f"deposit-book:{entry_id}", when, "ETH", request, D(amount))


def sell(entry_id: int, when: datetime, amount: str, price: str, fiat_amount: str | None = None,
         fiat: str = "HKD", fee: str | None = None) -> Posting:
    request = {"currency": "ETH", "amount": amount, "fiat": fiat, "price": price,
               "fiat_amount": fiat_amount or str(D(amount) * D(price))}
    if fee is not None:
        request["fee"] = fee
    return Posting(entry_id, "sell", f"sell:{entry_id}", when, "ETH", request, -(D(amount) + D(fee or "0")))


def p2p(entry_id: int, when: datetime, *, seller: int, buyer: int, amount: str, price: str, fee: str = "0",
        fee_payer: str = "seller", me: int = CUSTOMER) -> Posting:
    """The release as the customer ``me`` sees it: the buyer receives ``amount``; the seller's
    coins out are amount + fee (from escrow)."""
    request = {"seller": seller, "buyer": buyer, "currency": "ETH", "amount": amount, "fee": fee,
               "fee_payer": fee_payer, "fiat": "HKD", "price": price}
    delta = D(amount) if me == buyer else -(D(amount) + D(fee))
    return Posting(entry_id, "p2p_release", f"p2p:trade:{entry_id}:release", when, "ETH", request, delta)


def settle(entry_id: int, when: datetime, principal: str, fee: str, order_id: int) -> Posting:
    total = D(principal) + D(fee)
    request = {"op": "settle", "customer": CUSTOMER, "currency": "ETH", "customer_fee": fee,
               "split": [["VA/HAS/ETHHKD", str(total)]]}
    return Posting(entry_id, "settle", f"withdrawal:{order_id}:settle", when, "ETH", request, -total)


def hold(entry_id: int, when: datetime) -> Posting:
    return Posting(entry_id, "hold", "withdrawal:7:hold", when, "ETH", {"op": "hold"}, D(0))


# docs/TAX.md, "Worked example": 1 ETH bought for 10,000 HKD, 2 ETH for 30,000 HKD, 1.5 ETH sold at
# 20,000, 0.5 ETH (+0.01 fee) withdrawn to the customer's own address, 0.5 ETH bought on P2P at
# 16,000 (the seller pays the fee), then the 1.49 ETH left sold at 21,000.
WORKED = [
    deposit(1, at(1), "1", cost="10000"),
    deposit(2, at(2), "2", cost="30000"),
    sell(3, at(3), "1.5", "20000", fiat_amount="30000"),
    hold(4, at(3, 20)),
    settle(5, at(4), "0.5", "0.01", order_id=7),
    p2p(6, at(5), seller=OTHER, buyer=CUSTOMER, amount="0.5", price="16000", fee="0.005"),
    sell(7, at(6), "1.49", "21000"),
]
OWN = frozenset({"withdrawal:7:settle"})

PRICES = PriceHistory([("ETH", "HKD", at(1), D("10000")), ("ETH", "HKD", at(3, 28), D("18000")),
                       ("ETH", "HKD", at(5), D("16000"))])
