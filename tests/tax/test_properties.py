"""Properties of the cost-basis engine over random histories (hypothesis): for every method and
fee treatment, each disposal's proceeds − cost basis is its realised gain, no lot ever goes
negative, the coins out equal the coins consumed, and the cost bases never exceed what was paid."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tax.cost_basis import compute
from tax.extraction import Posting, events_from_postings
from tax.prices import PriceHistory

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PRICES = PriceHistory([("ETH", "HKD", T0, Decimal("15000"))])

amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("50"), places=8)
prices = st.decimals(min_value=Decimal("1"), max_value=Decimal("90000"), places=2)


@st.composite
def histories(draw):
    postings, held = [], Decimal(0)
    for entry_id in range(1, draw(st.integers(min_value=1, max_value=40)) + 1):
        when = T0 + timedelta(hours=entry_id)
        action = draw(st.sampled_from(["deposit", "deposit_priced", "sell", "p2p_buy", "p2p_sell", "settle"]))
        if action.startswith("deposit") or action == "p2p_buy" or held <= 0:
            amount = draw(amounts)
            held += amount
            if action == "p2p_buy":
                request = {"seller": 9, "buyer": 1, "currency": "ETH", "amount": str(amount), "fee": "0",
                           "fee_payer": "seller", "fiat": "HKD", "price": str(draw(prices))}
                postings.append(Posting(entry_id, "p2p_release", f"p2p:{entry_id}", when, "ETH", request, amount))
            else:
                request = {"amount": str(amount)}
                if action == "deposit_priced":
                    request.update(cost=str(draw(prices)), cost_fiat="HKD")
                postings.append(Posting(entry_id, "deposit", f"dep:{entry_id}", when, "ETH", request, amount))
            continue
        # Sometimes more than is held: the engine must flag the shortfall, never go negative.
        out = draw(st.one_of(st.decimals(min_value=Decimal("0.00000001"), max_value=held, places=8), amounts))
        fee = draw(st.sampled_from([Decimal(0), Decimal("0.0001")]))
        held -= out + fee
        if action == "sell":
            request = {"currency": "ETH", "amount": str(out), "fee": str(fee), "fiat": "HKD",
                       "price": str(draw(prices))}
            postings.append(Posting(entry_id, "sell", f"sell:{entry_id}", when, "ETH", request, -(out + fee)))
        elif action == "p2p_sell":
            request = {"seller": 1, "buyer": 9, "currency": "ETH", "amount": str(out), "fee": str(fee),
                       "fee_payer": draw(st.sampled_from(["seller", "buyer"])), "fiat": "HKD",
                       "price": str(draw(prices))}
            postings.append(Posting(entry_id, "p2p_release", f"p2p:{entry_id}", when, "ETH", request, -(out + fee)))
        else:
            request = {"customer_fee": str(fee)}
            postings.append(Posting(entry_id, "settle", f"withdrawal:{entry_id}:settle", when, "ETH", request,
                                    -(out + fee)))
    return postings


@settings(max_examples=150, deadline=None)
@given(postings=histories(), method=st.sampled_from(["fifo", "hifo", "average"]),
       fee_as=st.sampled_from(["cost", "disposal"]), own=st.booleans())
def test_proceeds_minus_cost_basis_is_the_gain_and_no_lot_goes_negative(postings, method, fee_as, own):
    refs = {p.reference for p in postings if p.kind == "settle"} if own else set()
    events = events_from_postings(postings, customer_id=1, fiat_code="HKD", price_at=PRICES.price_at,
                                  own_withdrawal_refs=refs, fee_as=fee_as)
    result = compute(events, method=method)
    for disposal in result.disposals:
        consumed = sum((c.quantity for c in disposal.consumed), Decimal(0))
        assert consumed == disposal.quantity
        assert all(c.quantity > 0 for c in disposal.consumed)
        if disposal.gain is not None:
            assert disposal.proceeds - disposal.cost_basis == disposal.gain
        else:
            assert disposal.event.kind == "transfer" or disposal.unknown_cost_quantity > 0 or disposal.proceeds is None
    for lot in [*result.lots, *result.pools.values()]:
        assert lot.remaining >= 0
        assert lot.remaining_cost is None or lot.remaining_cost >= 0
    known_paid = sum((lot.cost for lot in result.lots if lot.cost is not None), Decimal(0))
    assert sum((d.cost_basis for d in result.disposals), Decimal(0)) <= known_paid
    # The coins left in the pool are what the ledger says the customer holds (shortfalls aside).
    held = sum((p.delta for p in postings), Decimal(0))
    remaining = sum((lot.remaining for lot in [*result.lots, *result.pools.values()]), Decimal(0))
    shortfall = sum((lot.quantity for lot in result.lots if lot.lot_id.startswith("shortfall:")), Decimal(0))
    assert remaining == held + shortfall
