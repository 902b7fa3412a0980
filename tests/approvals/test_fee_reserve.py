"""Fee-reserve requests: staff request, another staff member approves, the ledger books it."""

from decimal import Decimal

import pytest

from approvals.models import FeeReserveRequest
from approvals.selectors import work_order_for_subject
from approvals.services.fee_reserve import fee_reserve_request_cancel, fee_reserve_request_create
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from ledger.selectors import ledger_check, tenant_fee_reserve
from tests.approvals.conftest import staff_in
from tests.fixtures.factories import CurrencyFactory, TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def treasury(db):
    CurrencyFactory(code="ETH", decimals=18)
    return {"maker": staff_in("Treasury"), "checker": staff_in("Treasury"), "tenant": TenantFactory()}


def test_top_up_is_booked_when_another_treasury_member_approves(treasury):
    request = fee_reserve_request_create(tenant=treasury["tenant"], currency="ETH", amount=Decimal("2.5"),
                                         kind="main_topup", actor=treasury["maker"], note="venue ref 123")
    wo = work_order_for_subject(request)
    assert (wo.type, wo.maker, wo.amount, wo.currency) == ("atm.va.main_account_topup", treasury["maker"],
                                                           Decimal("2.5"), "ETH")
    assert wo.subject_label == f"Main account top-up FRR{request.pk}: 2.5 ETH (HAS)"
    with pytest.raises(DomainError) as info:
        work_order_decide(work_order=wo, actor=treasury["maker"], decision="approve")
    assert info.value.code == "maker_cannot_approve"

    work_order_decide(work_order=wo, actor=treasury["checker"], decision="approve")
    request.refresh_from_db()
    assert request.status == "approved"
    assert tenant_fee_reserve(tenant=treasury["tenant"], currency="ETH")["main"] == Decimal("2.5")
    assert ledger_check() == []


def test_rejected_request_books_nothing(treasury):
    request = fee_reserve_request_create(tenant=treasury["tenant"], currency="ETH", amount="1", kind="sub_to_main",
                                         actor=treasury["maker"])
    wo = work_order_for_subject(request)
    assert wo.type == "atm.va.sub_to_main_transfer"
    work_order_decide(work_order=wo, actor=treasury["checker"], decision="reject", comment="Wrong amount")
    request.refresh_from_db()
    assert (request.status, request.reason) == ("rejected", "Wrong amount")
    assert tenant_fee_reserve(tenant=treasury["tenant"], currency="ETH")["main"] == Decimal("0")


def test_cancel_closes_the_work_order(treasury):
    request = fee_reserve_request_create(tenant=treasury["tenant"], currency="ETH", amount="1", kind="main_topup",
                                         actor=treasury["maker"])
    fee_reserve_request_cancel(request=request, actor=treasury["maker"], reason="Duplicate")
    request.refresh_from_db()
    wo = work_order_for_subject(request)
    assert (request.status, wo.status, wo.reason) == ("cancelled", "cancelled", "Duplicate")


@pytest.mark.parametrize(("kwargs", "code", "field"), [
    ({"kind": "gift"}, "validation_error", "kind"),
    ({"amount": "0"}, "amount_not_positive", "amount"),
    ({"amount": "abc"}, "invalid_amount", "amount"),
    ({"amount": "1.0000000000000000001"}, "amount_precision", "amount"),
    ({"currency": "XYZ"}, "validation_error", "currency"),
])
def test_bad_requests_change_nothing(treasury, kwargs, code, field):
    args = {"tenant": treasury["tenant"], "currency": "ETH", "amount": "1", "kind": "main_topup",
            "actor": treasury["maker"], **kwargs}
    with pytest.raises(DomainError) as info:
        fee_reserve_request_create(**args)
    assert (info.value.code, info.value.field) == (code, field)
    assert not FeeReserveRequest.objects.exists()
