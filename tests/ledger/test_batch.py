"""Batched postings: ledger_settle_batch, ledger_fee_book_batch and ledger_deposit_batch post what
the one-by-one services would (same legs, references and requests, replaying each other), all or
nothing."""

from decimal import Decimal

import pytest

from core.errors import DomainError
from ledger.models import JournalEntry, JournalLeg
from ledger.selectors import ledger_check, tenant_balances, tenant_fee_reserve
from ledger.services import (
    Deposit,
    FeeBooking,
    HoldLine,
    Settlement,
    ledger_deposit,
    ledger_deposit_batch,
    ledger_fee_book,
    ledger_fee_book_batch,
    ledger_fee_reserve,
    ledger_hold,
    ledger_settle,
    ledger_settle_batch,
)
from tests.fixtures.factories import CustomerFactory
from tests.ledger.test_services import positions

D = Decimal
USD, HKD = "VA/HAS/ETHUSD", "VA/HAS/ETHHKD"


def _legs(reference: str) -> list[tuple[str, str, Decimal]]:
    entry = JournalEntry.objects.get(reference=reference)
    return [(leg.account.kind, leg.account.instrument, leg.amount)
            for leg in JournalLeg.objects.filter(entry=entry).select_related("account").order_by("id")]


def test_a_settle_batch_posts_what_ledger_settle_posts(funded, other_customer, eth):
    ledger_deposit(customer=other_customer, currency=eth, quote="USD", amount=D("2"), reference="dep-o")
    one = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h1")  # both instruments
    two = ledger_hold(customer=other_customer, currency=eth, amount=D("0.5"), reference="h2")
    alone = ledger_hold(customer=other_customer, currency=eth, amount=D("0.25"), reference="h3")
    ledger_settle(customer=other_customer, currency=eth, split=alone, customer_fee=D("0.01"), reference="s3")

    posted = ledger_settle_batch(settlements=[
        Settlement(customer=funded, currency=eth, split=one, customer_fee=D("0.1"), reference="s1"),
        Settlement(customer=other_customer, currency=eth, split=two, customer_fee=D("0"), reference="s2"),
    ])

    assert [(p.reference, p.replayed) for p in posted] == [("s1", False), ("s2", False)]
    assert [k for k, _, _ in _legs("s1")] == ["customer_held", "customer_held", "sub_account", "fee_revenue"]
    assert [leg[2] for leg in _legs("s1")] == [D("1.0"), D("0.5"), D("-1.4"), D("-0.1")]
    assert [k for k, _, _ in _legs("s2")] == ["customer_held", "sub_account"]  # a zero fee: no leg
    assert [k for k, _, _ in _legs("s3")] == [k for k, _, _ in _legs("s2")] + ["fee_revenue"]
    assert positions(funded) == {USD: (D("0"), D("0")), HKD: (D("0.3"), D("0"))}
    assert tenant_balances(tenant=funded.tenant, currency=eth)["fee_revenue"] == D("0.11")
    assert ledger_check() == []


def test_a_batch_and_the_single_service_replay_each_other(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    first = ledger_settle(customer=funded, currency=eth, split=split, customer_fee=D("0.1"), reference="s1")
    [again] = ledger_settle_batch(settlements=[
        Settlement(customer=funded, currency=eth, split=split, customer_fee=D("0.1"), reference="s1")])
    assert (again.entry_id, again.replayed) == (first.pk, True)
    assert JournalEntry.objects.filter(reference="s1").count() == 1
    assert ledger_check() == []


def test_one_refused_item_refuses_the_whole_batch(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    entries = JournalEntry.objects.count()
    too_much = [HoldLine(instrument=USD, amount=D("0.9"))]  # more than is held on USD
    with pytest.raises(DomainError) as refused:
        ledger_settle_batch(settlements=[
            Settlement(customer=funded, currency=eth, split=split, customer_fee=D("0"), reference="s1"),
            Settlement(customer=funded, currency=eth, split=too_much, customer_fee=D("0"), reference="s2"),
        ])
    assert refused.value.code == "insufficient_balance"
    assert JournalEntry.objects.count() == entries
    with pytest.raises(DomainError) as conflict:
        ledger_settle(customer=funded, currency=eth, split=split, customer_fee=D("0"), reference="s1")
        ledger_settle_batch(settlements=[
            Settlement(customer=funded, currency=eth, split=split, customer_fee=D("0.2"), reference="s1")])
    assert conflict.value.code == "ledger_reference_conflict"
    assert ledger_check() == []


@pytest.mark.parametrize(("fee", "code"), [(D("0.5"), "validation_error"), (D("-1"), "amount_not_positive")])
def test_a_fee_that_leaves_no_principal_is_refused(funded, eth, fee, code):
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    with pytest.raises(DomainError) as refused:
        ledger_settle_batch(settlements=[Settlement(customer=funded, currency=eth, split=split, customer_fee=fee,
                                                    reference="s1")])
    assert refused.value.code == code
    assert not JournalEntry.objects.filter(reference="s1").exists()


def test_a_fee_book_batch_posts_what_ledger_fee_book_posts(main_funded, eth):
    """Replays the single service and is replayed by it; within a tenant the bookings run in the
    order given, so the one that goes beyond the main account records the shortfall."""
    from customers.models import Tenant

    other = Tenant.objects.create(name="Other", venue_code="OTH", quote_currencies=["USD"])
    ledger_fee_reserve(tenant=main_funded, currency=eth, amount=D("0.5"), reference="r1")
    single = ledger_fee_book(tenant=main_funded, currency=eth, reserved=D("0.5"), actual=D("0.2"), reference="b1")
    posted = ledger_fee_book_batch(bookings=[
        FeeBooking(tenant=main_funded, currency=eth, reserved=D("0.5"), actual=D("0.2"), reference="b1"),
        FeeBooking(tenant=other, currency=eth, reserved=D("0"), actual=D("0.01"), reference="b-other"),
        FeeBooking(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.7"), reference="b2"),
        FeeBooking(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.3"), reference="b3"),
    ])
    assert [(p.reference, p.replayed) for p in posted] == [("b1", True), ("b-other", False), ("b2", False),
                                                           ("b3", False)]  # in the order given
    assert posted[0].entry_id == single.pk
    reserve = tenant_fee_reserve(tenant=main_funded, currency=eth)  # main 1 - 0.2 = 0.8; 0.7 leaves 0.1
    assert (reserve["main"], reserve["expense"], reserve["shortfall"]) == (D(0), D("1.2"), D("0.2"))
    assert tenant_fee_reserve(tenant=other, currency=eth)["shortfall"] == D("0.01")  # nothing in its main
    again = ledger_fee_book(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.3"), reference="b3")
    assert again.pk == posted[3].entry_id and JournalEntry.objects.filter(reference="b3").count() == 1
    assert ledger_check() == []


def test_one_refused_fee_booking_refuses_the_whole_batch(main_funded, eth):
    entries = JournalEntry.objects.count()
    with pytest.raises(DomainError) as refused:
        ledger_fee_book_batch(bookings=[
            FeeBooking(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.1"), reference="b1"),
            FeeBooking(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0"), reference="b2"),
        ])
    assert refused.value.code == "amount_not_positive"
    assert JournalEntry.objects.count() == entries
    with pytest.raises(DomainError) as conflict:
        ledger_fee_book(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.1"), reference="b1")
        ledger_fee_book_batch(bookings=[
            FeeBooking(tenant=main_funded, currency=eth, reserved=D("0"), actual=D("0.2"), reference="b1")])
    assert conflict.value.code == "ledger_reference_conflict"
    assert ledger_check() == []


def test_a_deposit_batch_posts_what_ledger_deposit_posts(tenant, eth):
    customers = [CustomerFactory(tenant=tenant) for _ in range(3)]
    ledger_deposit(customer=customers[0], currency=eth, quote="USD", amount=D("1"), reference="d0")
    posted = ledger_deposit_batch(deposits=[
        Deposit(customer=c, currency=eth, quote=quote, amount=D("1"), reference=f"d{i}")
        for i, c in enumerate(customers) for quote in ("USD",)] + [
        Deposit(customer=customers[1], currency=eth, quote="HKD", amount=D("0.8"), reference="d1-hkd")])
    assert [(p.reference, p.replayed) for p in posted] == [("d0", True), ("d1", False), ("d2", False),
                                                           ("d1-hkd", False)]
    assert positions(customers[1]) == {USD: (D("1"), D("0")), HKD: (D("0.8"), D("0"))}
    assert tenant_balances(tenant=tenant, currency=eth)["sub_account"] == D("3.8")
    with pytest.raises(DomainError) as refused:
        ledger_deposit_batch(deposits=[Deposit(customer=customers[2], currency=eth, quote="EUR", amount=D("1"),
                                               reference="d-eur")])
    assert refused.value.code == "validation_error"
    assert ledger_check() == []


def test_a_raw_leg_after_a_batch_is_still_checked_leg_by_leg(funded, eth):
    """The per-leg check is skipped only for the batch's own leg INSERT: a leg added afterwards in
    the same transaction to an entry posted earlier (its check long done) is caught at commit."""
    from django.db import IntegrityError, connection, transaction

    from ledger.models import Account
    from tests.ledger.test_integrity import sqlstate

    ledger_deposit(customer=funded, currency=eth, quote="USD", amount=D("1"), reference="old-entry")
    split = ledger_hold(customer=funded, currency=eth, amount=D("0.5"), reference="h1")
    sub = Account.objects.get(tenant=funded.tenant, kind="sub_account")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        ledger_settle_batch(settlements=[
            Settlement(customer=funded, currency=eth, split=split, customer_fee=D("0"), reference="s1")])
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) "
                           "SELECT id, %s, 'ETH', 0.5 FROM ledger_entry WHERE reference = 'old-entry'", [sub.pk])
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert sqlstate(exc.value) == "23L06"
    assert ledger_check() == []
