"""The worked example of docs/TAX.md, computed by hand for each method: partial lots, a withdrawal
fee, a transfer to the customer's own address, a sell after a P2P purchase."""

from decimal import Decimal

import pytest

from tax.cost_basis import compute
from tax.extraction import events_from_postings
from tests.tax.examples import CUSTOMER, OWN, PRICES, WORKED

D = Decimal


def run(method: str, fee_as: str = "cost"):
    events = events_from_postings(WORKED, customer_id=CUSTOMER, fiat_code="HKD", price_at=PRICES.price_at,
                                  own_withdrawal_refs=OWN, fee_as=fee_as)
    return compute(events, method=method)


def lines(result):
    return [(d.event.reference, d.event.kind, d.quantity, d.proceeds, d.cost_basis, d.gain,
             [(c.lot_id, c.quantity, c.cost) for c in d.consumed]) for d in result.disposals]


def test_fifo_oldest_lot_first():
    assert lines(run("fifo")) == [
        # 1.5 sold: all of lot 1 (10,000) and half of lot 2 (0.5 of 2 at 30,000 = 7,500).
        ("sell:3", "disposal", D("1.5"), D("30000.00"), D("17500.00"), D("12500.00"),
         [("ETH:1:deposit-book:1", D("1"), D("10000.00")), ("ETH:2:deposit-book:2", D("0.5"), D("7500.00"))]),
        # 0.5 to the own address + 0.01 fee (fee as cost): 0.51 of lot 2's 1.5 left (22,500) = 7,650, carried.
        ("withdrawal:7:settle", "transfer", D("0.51"), None, D("7650.00"), None,
         [("ETH:2:deposit-book:2", D("0.51"), D("7650.00"))]),
        # 1.49 sold at 21,000 = 31,290: lot 2's 0.99 left (14,850) and the P2P lot (0.5 at 16,000 = 8,000).
        ("sell:7", "disposal", D("1.49"), D("31290.00"), D("22850.00"), D("8440.00"),
         [("ETH:2:deposit-book:2", D("0.99"), D("14850.00")), ("ETH:6:p2p:trade:6:release", D("0.5"),
                                                                 D("8000.00"))]),
    ]


def test_hifo_highest_unit_cost_first():
    assert lines(run("hifo")) == [
        ("sell:3", "disposal", D("1.5"), D("30000.00"), D("22500.00"), D("7500.00"),
         [("ETH:2:deposit-book:2", D("1.5"), D("22500.00"))]),
        # Lot 2's 0.5 left (unit 15,000: 7,500), then 0.01 of lot 1 (unit 10,000: 100).
        ("withdrawal:7:settle", "transfer", D("0.51"), None, D("7600.00"), None,
         [("ETH:2:deposit-book:2", D("0.5"), D("7500.00")), ("ETH:1:deposit-book:1", D("0.01"), D("100.00"))]),
        # The P2P lot (unit 16,000) before lot 1's 0.99 left (9,900).
        ("sell:7", "disposal", D("1.49"), D("31290.00"), D("17900.00"), D("13390.00"),
         [("ETH:6:p2p:trade:6:release", D("0.5"), D("8000.00")), ("ETH:1:deposit-book:1", D("0.99"),
                                                                    D("9900.00"))]),
    ]


def test_average_one_pool():
    assert lines(run("average")) == [
        # 3 ETH for 40,000: 1.5 takes 20,000.
        ("sell:3", "disposal", D("1.5"), D("30000.00"), D("20000.00"), D("10000.00"),
         [("pool:ETH", D("1.5"), D("20000.00"))]),
        # 1.5 left at 20,000: 0.51 takes 6,800.
        ("withdrawal:7:settle", "transfer", D("0.51"), None, D("6800.00"), None, [("pool:ETH", D("0.51"),
                                                                                  D("6800.00"))]),
        # 0.99 (13,200) + 0.5 (8,000) = 1.49 for 21,200: all of it.
        ("sell:7", "disposal", D("1.49"), D("31290.00"), D("21200.00"), D("10090.00"),
         [("pool:ETH", D("1.49"), D("21200.00"))]),
    ]


@pytest.mark.parametrize(("method", "total"), [("fifo", "20940.00"), ("hifo", "20890.00"),
                                               ("average", "20090.00")])
def test_totals_tie_out(method, total):
    """Realised gain = proceeds − (costs acquired − basis carried out by the transfer)."""
    result = run(method)
    gains = sum(d.gain for d in result.disposals if d.gain is not None)
    carried = sum(d.cost_basis for d in result.disposals if d.event.kind == "transfer")
    assert gains == D(total)
    assert gains == D("61290.00") - (D("48000.00") - carried)
    assert all(lot.remaining == 0 for lot in [*result.lots, *result.pools.values()])


def test_fee_as_a_disposal_of_its_own():
    """FIFO, fee as disposal: the transfer carries 0.5 of lot 2 (7,500); the 0.01 fee is sold at the
    price then (18,000: 180.00) against 0.01 of lot 2 (1.0 left at 15,000: 150.00), a gain of 30."""
    transfer, fee = run("fifo", fee_as="disposal").disposals[1:3]
    assert (transfer.event.kind, transfer.quantity, transfer.cost_basis) == ("transfer", D("0.5"), D("7500.00"))
    assert (fee.event.source, fee.quantity, fee.proceeds, fee.cost_basis, fee.gain) == (
        "fee", D("0.01"), D("180.00"), D("150.00"), D("30.00"))
    assert fee.event.fee_value == D("180.00")


def test_the_hold_moves_nothing():
    events = events_from_postings(WORKED, customer_id=CUSTOMER, fiat_code="HKD", price_at=PRICES.price_at,
                                  own_withdrawal_refs=OWN)
    assert "withdrawal:7:hold" not in {e.reference for e in events}
