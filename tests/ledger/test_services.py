"""The posting services: what each moves, the waterfall, idempotency and refusals."""

from decimal import Decimal

import pytest

from core.errors import DomainError
from ledger.models import AccountKind, JournalEntry, JournalLeg
from ledger.selectors import account_balance, customer_balances, ledger_check, tenant_fee_reserve
from ledger.services import (
    HoldLine,
    ledger_deposit,
    ledger_fee_book,
    ledger_fee_release,
    ledger_fee_reserve,
    ledger_hold,
    ledger_release,
    ledger_settle,
    ledger_transfer,
)

D = Decimal
USD, HKD = "VA/HAS/ETHUSD", "VA/HAS/ETHHKD"


def positions(customer) -> dict[str, tuple[Decimal, Decimal]]:
    """instrument → (available, held) for the customer's ETH."""
    [eth] = [b for b in customer_balances(customer=customer) if b["currency"] == "ETH"]
    return {line["instrument"]: (line["available"], line["held"]) for line in eth["instruments"]}


def test_deposit_credits_the_instrument_and_the_sub_account(customer, eth):
    entry = ledger_deposit(customer=customer, currency=eth, quote="USD", amount=D("2.5"), reference="d1", memo="seed")

    assert isinstance(entry, JournalEntry) and entry.pk and entry.kind == "deposit"
    assert positions(customer) == {USD: (D("2.5"), D(0))}
    assert tenant_fee_reserve(tenant=customer.tenant, currency=eth)["sub_account"] == D("2.5")
    legs = {leg.account.kind: leg.amount for leg in JournalLeg.objects.filter(entry=entry).select_related("account")}
    assert legs == {AccountKind.SUB_ACCOUNT: D("2.5"), AccountKind.CUSTOMER_AVAILABLE: D("-2.5")}  # Dr sub / Cr cust
    assert ledger_check() == []


def test_deposit_refuses_a_quote_the_tenant_does_not_use(customer, eth):
    with pytest.raises(DomainError) as exc:
        ledger_deposit(customer=customer, currency=eth, quote="EUR", amount=D("1"), reference="d-eur")
    assert (exc.value.code, exc.value.field) == ("validation_error", "quote")
    assert not JournalEntry.objects.exists()


def test_the_waterfall_takes_the_largest_available_balance_first(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h1")

    assert split == [HoldLine(USD, D("1.0")), HoldLine(HKD, D("0.5"))]
    assert positions(funded) == {USD: (D(0), D("1.0")), HKD: (D("0.3"), D("0.5"))}
    assert ledger_check() == []


def test_the_waterfall_breaks_ties_by_instrument_code_ascending(customer, eth):
    ledger_deposit(customer=customer, currency=eth, quote="USD", amount=D("1"), reference="d-usd")
    ledger_deposit(customer=customer, currency=eth, quote="HKD", amount=D("1"), reference="d-hkd")

    split = ledger_hold(customer=customer, currency=eth, amount=D("1.2"), reference="h-tie")

    assert split == [HoldLine(HKD, D("1")), HoldLine(USD, D("0.2"))]  # "…ETHHKD" < "…ETHUSD"


def test_a_hold_covered_by_one_instrument_touches_only_that_one(funded, eth):
    assert ledger_hold(customer=funded, currency=eth, amount=D("0.9"), reference="h") == [HoldLine(USD, D("0.9"))]
    # Now HKD (0.8) is the largest available balance.
    assert ledger_hold(customer=funded, currency=eth, amount=D("0.2"), reference="h2") == [HoldLine(HKD, D("0.2"))]


def test_release_returns_exactly_to_the_same_instruments(funded, eth):
    before = positions(funded)
    split = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h1")
    # Something else moves in between: the release must not follow the balances, only the split.
    ledger_deposit(customer=funded, currency=eth, quote="HKD", amount=D("5"), reference="d-more")

    stored = [line.as_dict() for line in split]
    assert stored == [{"instrument": USD, "amount": "1"}, {"instrument": HKD, "amount": "0.5"}]
    ledger_release(customer=funded, currency=eth, split=[HoldLine.from_dict(d) for d in stored], reference="r1")

    after = positions(funded)
    assert after[USD] == before[USD]
    assert after[HKD] == (before[HKD][0] + D("5"), D(0))
    assert ledger_check() == []


def test_insufficient_balance_changes_nothing(funded, eth):
    entries = JournalEntry.objects.count()
    with pytest.raises(DomainError) as exc:
        ledger_hold(customer=funded, currency=eth, amount=D("1.8000001"), reference="too-much")

    assert exc.value.code == "insufficient_balance" and exc.value.status == 400
    assert JournalEntry.objects.count() == entries
    assert positions(funded) == {USD: (D("1.0"), D(0)), HKD: (D("0.8"), D(0))}
    # The reference was not burnt by the refusal.
    assert ledger_hold(customer=funded, currency=eth, amount=D("1.8"), reference="too-much")


@pytest.mark.parametrize(("amount", "code"), [
    (D("0"), "amount_not_positive"),
    (D("-1"), "amount_not_positive"),
    (D("0.0000000000000000001"), "amount_precision"),  # 19 decimals, ETH has 18
    (1.5, "invalid_amount"),
    ("1.5", "invalid_amount"),
    (D("NaN"), "invalid_amount"),
])
def test_amounts_are_exact_positive_decimals(funded, eth, amount, code):
    with pytest.raises(DomainError) as exc:
        ledger_hold(customer=funded, currency=eth, amount=amount, reference="bad")
    assert exc.value.code == code


def test_amount_precision_follows_the_currency(customer, btc):
    with pytest.raises(DomainError) as exc:
        ledger_deposit(customer=customer, currency=btc, quote="USD", amount=D("0.000000001"), reference="d")
    assert exc.value.code == "amount_precision"
    ledger_deposit(customer=customer, currency=btc, quote="USD", amount=D("0.00000001"), reference="d")


def test_unknown_currency_is_refused(customer, eth):
    with pytest.raises(DomainError) as exc:
        ledger_deposit(customer=customer, currency="DOGE", quote="USD", amount=D("1"), reference="d")
    assert exc.value.code == "unknown_currency"


def test_the_same_reference_posts_once(funded, eth):
    first = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h1")
    again = ledger_hold(customer=funded, currency=eth, amount=D("1.50"), reference="h1")

    assert again == first
    assert positions(funded)[USD] == (D(0), D("1.0"))
    assert JournalEntry.objects.filter(reference="h1").count() == 1

    entry = ledger_deposit(customer=funded, currency=eth, quote="USD", amount=D("1"), reference="d2")
    replay = ledger_deposit(customer=funded, currency=eth, quote="USD", amount=D("1"), reference="d2")
    assert replay.pk == entry.pk
    assert positions(funded)[USD] == (D("1"), D("1.0"))


@pytest.mark.parametrize("other_call", [
    lambda c, t: ledger_hold(customer=c, currency="ETH", amount=D("0.1"), reference="ref"),
    lambda c, t: ledger_deposit(customer=c, currency="ETH", quote="HKD", amount=D("1"), reference="ref"),
    lambda c, t: ledger_deposit(customer=c, currency="ETH", quote="USD", amount=D("2"), reference="ref"),
    lambda c, t: ledger_transfer(tenant=t, currency="ETH", amount=D("1"), kind="main_topup", reference="ref"),
])
def test_a_reference_reused_for_another_posting_is_a_conflict(funded, eth, other_call):
    ledger_deposit(customer=funded, currency=eth, quote="USD", amount=D("1"), reference="ref")
    with pytest.raises(DomainError) as exc:
        other_call(funded, funded.tenant)
    assert (exc.value.code, exc.value.status) == ("ledger_reference_conflict", 409)
    assert ledger_check() == []


def test_settle_pays_out_principal_from_the_sub_account_and_books_the_fee(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h1")
    ledger_settle(customer=funded, currency=eth, split=split, customer_fee=D("0.01"), reference="s1")

    assert positions(funded) == {USD: (D(0), D(0)), HKD: (D("0.3"), D(0))}
    reserve = tenant_fee_reserve(tenant=funded.tenant, currency=eth)
    assert reserve["sub_account"] == D("1.8") - D("1.49")
    assert reserve["revenue"] == D("0.01")
    assert ledger_check() == []


def test_settle_refuses_a_fee_that_leaves_no_principal(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.1"), reference="h1")
    with pytest.raises(DomainError) as exc:
        ledger_settle(customer=funded, currency=eth, split=split, customer_fee=D("0.1"), reference="s1")
    assert exc.value.field == "customer_fee"


def test_release_or_settle_of_more_than_is_held_is_refused(funded, eth):
    ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    with pytest.raises(DomainError) as exc:
        ledger_release(customer=funded, currency=eth, split=[HoldLine(USD, D("0.6"))], reference="r1")
    assert exc.value.code == "insufficient_balance"
    with pytest.raises(DomainError) as exc:
        ledger_settle(customer=funded, currency=eth, split=[HoldLine("VA/HAS/ETHEUR", D("0.1"))],
                      customer_fee=D(0), reference="s1")
    assert (exc.value.code, exc.value.field) == ("validation_error", "split")


def test_another_customers_split_cannot_be_released(funded, other_customer, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    with pytest.raises(DomainError):
        ledger_release(customer=other_customer, currency=eth, split=split, reference="r1")


def test_fee_reserve_needs_the_main_account(tenant, eth):
    with pytest.raises(DomainError) as exc:
        ledger_fee_reserve(tenant=tenant, currency=eth, amount=D("0.01"), reference="f1")
    assert (exc.value.code, exc.value.status) == ("insufficient_main_account_fees", 409)
    assert exc.value.detail.startswith("Insufficient main account fees")

    ledger_transfer(tenant=tenant, currency=eth, amount=D("0.05"), kind="main_topup", reference="t1")
    ledger_fee_reserve(tenant=tenant, currency=eth, amount=D("0.01"), reference="f1")
    assert tenant_fee_reserve(tenant=tenant, currency=eth) | {} == {
        "currency": "ETH", "main": D("0.04"), "reserved": D("0.01"), "sub_account": D(0), "shortfall": D(0),
        "expense": D(0), "revenue": D(0)}
    ledger_fee_release(tenant=tenant, currency=eth, amount=D("0.01"), reference="f2")
    assert tenant_fee_reserve(tenant=tenant, currency=eth)["main"] == D("0.05")


def test_fee_book_releases_the_reserve_and_books_the_actual_fee(main_funded, eth):
    ledger_fee_reserve(tenant=main_funded, currency=eth, amount=D("0.02"), reference="f1")
    ledger_fee_book(tenant=main_funded, currency=eth, reserved=D("0.02"), actual=D("0.015"), reference="f2")

    reserve = tenant_fee_reserve(tenant=main_funded, currency=eth)
    assert (reserve["main"], reserve["reserved"], reserve["expense"]) == (D("0.985"), D(0), D("0.015"))
    assert ledger_check() == []


def test_fee_book_beyond_the_main_account_records_a_shortfall_repaid_by_the_next_topup(main_funded, eth):
    ledger_fee_reserve(tenant=main_funded, currency=eth, amount=D("0.5"), reference="f1")
    ledger_fee_book(tenant=main_funded, currency=eth, reserved=D("0.5"), actual=D("1.2"), reference="f2")

    reserve = tenant_fee_reserve(tenant=main_funded, currency=eth)
    assert (reserve["main"], reserve["expense"], reserve["shortfall"]) == (D(0), D("1.2"), D("0.2"))

    ledger_transfer(tenant=main_funded, currency=eth, amount=D("0.5"), kind="main_topup", reference="t2")
    reserve = tenant_fee_reserve(tenant=main_funded, currency=eth)
    assert (reserve["main"], reserve["shortfall"]) == (D("0.3"), D(0))
    assert ledger_check() == []


def test_fee_book_of_a_failed_tx_whose_reserve_was_released(main_funded, eth):
    ledger_fee_book(tenant=main_funded, currency=eth, reserved=D(0), actual=D("0.001"), reference="f")
    assert tenant_fee_reserve(tenant=main_funded, currency=eth)["main"] == D("0.999")
    with pytest.raises(DomainError):
        ledger_fee_book(tenant=main_funded, currency=eth, reserved=D(0), actual=D(0), reference="f0")


def test_sub_to_main_needs_the_sub_account(funded, eth):
    tenant = funded.tenant
    with pytest.raises(DomainError) as exc:
        ledger_transfer(tenant=tenant, currency=eth, amount=D("1.9"), kind="sub_to_main", reference="t1")
    assert exc.value.code == "insufficient_balance"

    ledger_transfer(tenant=tenant, currency=eth, amount=D("0.8"), kind="sub_to_main", reference="t1")
    reserve = tenant_fee_reserve(tenant=tenant, currency=eth)
    assert (reserve["sub_account"], reserve["main"]) == (D("1.0"), D("0.8"))
    with pytest.raises(DomainError) as exc:
        ledger_transfer(tenant=tenant, currency=eth, amount=D("1"), kind="sideways", reference="t2")
    assert exc.value.field == "kind"


def test_a_refusal_inside_a_callers_transaction_rolls_back_only_the_posting(funded, eth):
    from django.db import transaction

    with transaction.atomic():
        ledger_hold(customer=funded, currency=eth, amount=D("1"), reference="h1")
        with pytest.raises(DomainError):
            ledger_hold(customer=funded, currency=eth, amount=D("5"), reference="h2")
        ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h3")
    assert positions(funded) == {USD: (D(0), D("1")), HKD: (D("0.3"), D("0.5"))}


def test_account_balance_helper(funded, eth):
    assert account_balance(customer=funded, currency=eth, kind="customer_available", instrument=USD) == D("1")
    assert account_balance(tenant=funded.tenant, currency=eth, kind="sub_account") == D("1.8")
    assert account_balance(tenant=funded.tenant, currency=eth, kind="main_account") == D(0)


def test_a_hold_is_one_statement(funded, eth):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        ledger_hold(customer=funded, currency=eth, amount=D("0.1"), reference="h-q")
    statements = [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1 and "ledger_post_hold" in statements[0]
