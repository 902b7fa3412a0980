"""What each ledger entry kind is for the customer (tax/extraction.py), on in-memory postings of
the agreed shape of the kinds not yet on this branch (sell, p2p_release)."""

from decimal import Decimal

from tax.cost_basis import compute
from tax.extraction import Posting, events_from_postings
from tax.prices import PriceHistory
from tests.tax.examples import CUSTOMER, OTHER, at, deposit, p2p, sell, settle

D = Decimal
NO_PRICES = PriceHistory([])
PRICES = PriceHistory([("ETH", "HKD", at(1), D("10000")), ("ETH", "USD", at(1), D("1280"))])


def events(postings, fee_as="cost", own=frozenset(), prices=PRICES, fiat="HKD", customer=CUSTOMER):
    return events_from_postings(postings, customer_id=customer, fiat_code=fiat, price_at=prices.price_at,
                                own_withdrawal_refs=own, fee_as=fee_as)


def test_a_deposit_without_a_stated_cost_is_valued_at_the_price_then():
    (event,) = events([deposit(1, at(1, 2), "0.5")])
    assert (event.kind, event.value, event.flags) == ("acquisition", D("5000.00"), ("cost at the price then",))


def test_an_unknown_cost_is_flagged_never_zero():
    (event,) = events([deposit(1, at(1, 2), "0.5")], prices=NO_PRICES)
    assert event.value is None and "cost unknown" in event.flags
    (disposal,) = compute([event, *events([sell(2, at(2), "0.2", "12000")], prices=NO_PRICES)],
                          method="fifo").disposals
    assert (disposal.cost_basis, disposal.unknown_cost_quantity, disposal.gain) == (D(0), D("0.2"), None)
    assert "consumes coins of unknown cost" in disposal.flags


def test_a_stale_price_is_unknown():
    prices = PriceHistory([("ETH", "HKD", at(1), D("10000"))], max_age=at(1, 8) - at(1, 1))
    assert prices.price_at("ETH", "HKD", at(1, 5)) == D("10000")
    assert prices.price_at("ETH", "HKD", at(1, 9)) is None
    assert prices.price_at("ETH", "HKD", at(1, 1).replace(hour=11)) is None  # before the first snapshot


def test_a_cost_stated_in_another_fiat_falls_back_to_the_price_then():
    (event,) = events([deposit(1, at(1, 2), "1", cost="1000", fiat="USD")])
    assert event.value == D("10000.00") and event.flags[0].startswith("cost in another fiat")


def test_a_sell_is_a_disposal_at_the_executed_price_net_of_fiat_fees():
    (event,) = events([sell(1, at(2), "0.5", "20000", fiat_amount="9950")])
    assert (event.kind, event.source, event.quantity, event.value) == ("disposal", "sell", D("0.5"), D("9950.00"))


def test_a_sell_in_another_fiat_is_valued_at_the_price_then_and_flagged():
    (event,) = events([sell(1, at(2), "0.5", "2600", fiat="USD")])
    assert event.value == D("5000.00") and "valued at the HKD price then" in event.flags[0]


def test_a_sell_with_a_crypto_fee():
    posting = sell(1, at(2), "0.5", "20000", fee="0.001")
    (as_cost,) = events([posting])
    assert (as_cost.quantity, as_cost.fee_quantity, as_cost.fee_value) == (D("0.5"), D("0.001"), D("20.00"))
    main, fee = events([posting], fee_as="disposal")
    assert (main.quantity, main.fee_quantity) == (D("0.5"), D(0))
    assert (fee.kind, fee.source, fee.quantity, fee.value) == ("disposal", "fee", D("0.001"), D("20.00"))


def test_p2p_release_seller_paying_the_fee():
    posting = p2p(1, at(2), seller=CUSTOMER, buyer=OTHER, amount="0.4", price="15000", fee="0.002")
    (sale,) = events([posting])
    assert (sale.kind, sale.source, sale.quantity, sale.fee_quantity, sale.value) == (
        "disposal", "p2p sale", D("0.4"), D("0.002"), D("6000.00"))
    buyer_view = p2p(1, at(2), seller=CUSTOMER, buyer=OTHER, amount="0.4", price="15000", fee="0.002", me=OTHER)
    (purchase,) = events([buyer_view], customer=OTHER)
    assert (purchase.kind, purchase.quantity, purchase.value) == ("acquisition", D("0.4"), D("6000.00"))


def test_p2p_release_buyer_paying_the_fee():
    """The buyer paid for the fee coins too: the seller sold amount + fee, the buyer's cost includes it."""
    seller_view = p2p(1, at(2), seller=CUSTOMER, buyer=OTHER, amount="0.4", price="15000", fee="0.002",
                      fee_payer="buyer")
    (sale,) = events([seller_view])
    assert (sale.quantity, sale.fee_quantity, sale.value) == (D("0.402"), D(0), D("6030.00"))
    buyer_view = p2p(1, at(2), seller=CUSTOMER, buyer=OTHER, amount="0.4", price="15000", fee="0.002",
                     fee_payer="buyer", me=OTHER)
    (purchase,) = events([buyer_view], customer=OTHER)
    assert (purchase.quantity, purchase.value) == (D("0.4"), D("6030.00"))


def test_a_sell_after_a_p2p_purchase_consumes_the_p2p_lot():
    postings = [p2p(1, at(2), seller=OTHER, buyer=CUSTOMER, amount="0.5", price="16000"),
                sell(2, at(3), "0.2", "18000")]
    (disposal,) = compute(events(postings), method="fifo").disposals
    assert [(c.lot_id, c.quantity, c.cost) for c in disposal.consumed] == [
        ("ETH:1:p2p:trade:1:release", D("0.2"), D("3200.00"))]
    assert disposal.gain == D("3600.00") - D("3200.00")


def test_a_withdrawal_to_the_own_address_is_a_transfer_to_a_third_party_a_disposal():
    posting = settle(1, at(2), "0.3", "0.001", order_id=5)
    (transfer,) = events([posting], own={"withdrawal:5:settle"})
    assert (transfer.kind, transfer.quantity, transfer.fee_quantity, transfer.value) == (
        "transfer", D("0.3"), D("0.001"), None)
    (disposal,) = events([posting])
    assert (disposal.kind, disposal.value) == ("disposal", D("3000.00"))
    assert "third party" in disposal.flags[0]


def test_an_unrecognised_kind_moving_coins_is_flagged():
    posting = Posting(1, "airdrop", "airdrop:1", at(2), "ETH", {}, D("1"))
    (event,) = events([posting])
    assert event.kind == "acquisition" and "unrecognised entry kind 'airdrop'" in event.flags[0]


def test_a_disposal_larger_than_the_pool_never_makes_a_lot_negative():
    result = compute(events([deposit(1, at(1, 2), "0.1", cost="1000"), sell(2, at(2), "0.3", "20000")]),
                     method="hifo")
    (disposal,) = result.disposals
    assert disposal.unknown_cost_quantity == D("0.2") and disposal.gain is None
    assert "no acquisition found for part of it: cost unknown" in disposal.flags
    assert all(lot.remaining >= 0 for lot in result.lots)
