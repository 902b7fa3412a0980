"""Staff book a customer deposit with its cost: one person records it, another approves the work
order (atm.va.deposit_book), and only then is it posted, the cost in the entry's request."""

from decimal import Decimal

import pytest

from approvals.models import DepositBooking
from approvals.selectors import work_order_for_subject
from approvals.services.deposits import deposit_booking_cancel, deposit_booking_create
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from ledger.models import JournalEntry
from ledger.selectors import ledger_check
from tests.approvals.conftest import staff_in
from tests.fixtures.factories import CurrencyFactory
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def treasury(db):
    CurrencyFactory(code="ETH", decimals=18)
    return {"maker": staff_in("Treasury"), "checker": staff_in("Treasury")}


def test_a_deposit_is_posted_with_its_cost_when_another_person_approves(treasury, customer):
    booking = deposit_booking_create(customer=customer, currency="ETH", quote="HKD", amount=Decimal("1.25"),
                                     cost=Decimal("25000"), cost_fiat="hkd", actor=treasury["maker"],
                                     note="tx 0xabc")
    wo = work_order_for_subject(booking)
    assert wo.type == "atm.va.deposit_book"
    assert not JournalEntry.objects.filter(reference=booking.reference).exists()
    with pytest.raises(DomainError) as info:
        work_order_decide(work_order=wo, actor=treasury["maker"], decision="approve")
    assert info.value.code == "maker_cannot_approve"

    work_order_decide(work_order=wo, actor=treasury["checker"], decision="approve")
    booking.refresh_from_db()
    assert booking.status == "booked"
    entry = JournalEntry.objects.get(reference=booking.reference)
    assert (entry.kind, entry.customer_id) == ("deposit", customer.pk)
    assert (entry.request["amount"], entry.request["cost"], entry.request["cost_fiat"]) == ("1.25", "25000", "HKD")
    assert [h.to_status for h in booking.history.order_by("id")] == ["booked"]
    assert ledger_check() == []


def test_without_a_cost_the_request_is_the_plain_deposit(treasury, customer):
    booking = deposit_booking_create(customer=customer, currency="ETH", quote="USD", amount="0.5",
                                     actor=treasury["maker"])
    work_order_decide(work_order=work_order_for_subject(booking), actor=treasury["checker"], decision="approve")
    entry = JournalEntry.objects.get(reference=booking.reference)
    assert "cost" not in entry.request and "cost_fiat" not in entry.request


def test_refusals_change_nothing(treasury, customer):
    for kwargs, code, field in [
        ({"amount": "0"}, "amount_not_positive", "amount"),
        ({"amount": "1", "cost": "10"}, "validation_error", "cost_fiat"),
        ({"amount": "1", "quote": "EUR"}, "validation_error", "quote"),
        ({"amount": "1", "currency": "XXX"}, "validation_error", "currency"),
    ]:
        args = {"customer": customer, "currency": "ETH", "quote": "HKD", "actor": treasury["maker"], **kwargs}
        with pytest.raises(DomainError) as info:
            deposit_booking_create(**args)
        assert (info.value.code, info.value.field) == (code, field)
    assert not DepositBooking.objects.exists()


def test_a_cancelled_or_rejected_booking_posts_nothing(treasury, customer):
    first = deposit_booking_create(customer=customer, currency="ETH", quote="HKD", amount="1", actor=treasury["maker"])
    deposit_booking_cancel(booking=first, actor=treasury["maker"], reason="typed twice")
    second = deposit_booking_create(customer=customer, currency="ETH", quote="HKD", amount="1",
                                    actor=treasury["maker"])
    work_order_decide(work_order=work_order_for_subject(second), actor=treasury["checker"], decision="reject",
                      comment="no such transaction")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("cancelled", "rejected")
    assert not JournalEntry.objects.filter(kind="deposit").exists()


def test_the_admin_form_books_through_the_service(client, treasury, customer):
    login_verified_staff(client, treasury["maker"])
    response = client.post("/admin/approvals/depositbooking/add/", {
        "customer": customer.pk, "currency": CurrencyFactory(code="ETH").pk, "quote": "HKD", "amount": "2",
        "cost": "30000", "cost_fiat": "HKD", "note": ""})
    assert response.status_code == 302, response.content[:2000]
    booking = DepositBooking.objects.get()
    assert (booking.requested_by, booking.cost, booking.status) == (treasury["maker"], Decimal("30000"), "pending")
    assert work_order_for_subject(booking).maker == treasury["maker"]
