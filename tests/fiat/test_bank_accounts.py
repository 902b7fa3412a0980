"""Bank accounts: per-rail validation (schwifty), the KYC-name rule, review through the work order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import WorkOrder
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from customers.names import CLOSE, EXACT, MISMATCH, name_match, name_normalize
from fiat.models import BankAccount, BankAccountStatusChange
from fiat.selectors import bank_accounts_active_for
from fiat.services.bank_accounts import bank_account_archive, bank_account_register
from tests.fiat.conftest import HSBC_HK

pytestmark = pytest.mark.django_db


def _nothing_changed():
    assert BankAccount.objects.count() == 0
    assert BankAccountStatusChange.objects.count() == 0
    assert WorkOrder.objects.filter(type="atm.fiat.bank_account_verify").count() == 0


def test_names_normalize_and_match():
    assert name_normalize("Mr. CHAN, Tai-Man") == "chan man tai"
    assert name_match("CHAN Tai Man", "Tai Man Chan") == EXACT
    assert name_match("Zoë Müller", "ZOE MULLER") == EXACT
    assert name_match("CHAN Tai Man", "Chan Taiman") == EXACT
    assert name_match("CHAN Tai Man", "CHAN Tai Man Peter") == CLOSE
    assert name_match("CHAN Tai Man", "CHAN Tai Mann") == CLOSE
    assert name_match("CHAN Tai Man", "WONG Siu Ming") == MISMATCH
    assert name_match("", "WONG Siu Ming") == MISMATCH


@pytest.mark.parametrize("fields, code", [
    ({"rail": "SWIFT", "currency": "USD", "bic": "DEUTDEFF", "iban": "DE89370400440532013001"}, "invalid_iban"),
    ({"rail": "FPS", "currency": "HKD", "iban": "DE89370400440532013000", "bank_code": "004",
      "account_number": "123456789"}, "invalid_iban"),
    ({"rail": "SWIFT", "currency": "USD", "bic": "DEUTXXFF", "iban": "DE89370400440532013000"}, "invalid_bic"),
    ({"rail": "SWIFT", "currency": "USD", "bic": "HSBCHKHH", "iban": "DE89370400440532013000"}, "invalid_bic"),
    ({"rail": "SWIFT", "currency": "USD", "account_number": "12345678"}, "invalid_bic"),
    ({"rail": "CHATS", "currency": "HKD", "bank_code": "999", "account_number": "123456789"}, "invalid_bank_code"),
    ({"rail": "FPS", "currency": "HKD", "account_number": "123456789"}, "invalid_bank_code"),
    ({"rail": "FPS", "currency": "USD", "fps_id": "1234567"}, "currency_not_on_rail"),
    ({"rail": "SWIFT", "currency": "HKD", "bic": "HSBCHKHHHKH"}, "validation_error"),
    ({"rail": "WIRE", "currency": "HKD"}, "validation_error"),
])
def test_bad_details_are_refused_and_change_nothing(kyc_customer, fields, code):
    with pytest.raises(DomainError) as refused:
        bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", **fields)
    assert refused.value.code == code
    _nothing_changed()


def test_holder_other_than_the_customer_is_refused(kyc_customer):
    with pytest.raises(DomainError) as refused:
        bank_account_register(customer=kyc_customer, holder_name="WONG Siu Ming", **HSBC_HK)
    assert refused.value.code == "name_mismatch"
    assert refused.value.field == "holder_name"
    _nothing_changed()


def test_register_each_rail_starts_pending_with_a_work_order(kyc_customer):
    swift = bank_account_register(customer=kyc_customer, holder_name="Tai Man Chan", rail="SWIFT", currency="USD",
                                  bic="DEUTDEFF", iban="de89 3704 0044 0532 0130 00")
    assert swift.iban == "DE89370400440532013000" and swift.bank_country == "DE"
    assert swift.masked_number == "•" * 18 + "3000"
    fps = bank_account_register(customer=kyc_customer, holder_name="CHAN TAI MAN", rail="FPS", currency="HKD",
                                fps_id="1234567")
    chats = bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", rail="CHATS", currency="USD",
                                  bank_code="012", account_number="01234567890", bic="BKCHHKHH")
    for account in (swift, fps, chats):
        assert account.status == BankAccount.Status.PENDING_REVIEW
        assert account.name_match == EXACT
        wo = WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk)
        assert wo.status == "open" and wo.maker == kyc_customer.user
    assert not bank_accounts_active_for(customer=kyc_customer).exists()


def test_close_name_is_flagged_to_the_checker(kyc_customer):
    account = bank_account_register(customer=kyc_customer, holder_name="CHAN Tai Mann", **HSBC_HK)
    assert account.name_match == CLOSE
    wo = WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk)
    assert wo.context["close_name_match"] is True and wo.context["kyc_legal_name"] == "CHAN Tai Man"


def test_duplicate_live_account_is_refused(kyc_customer):
    bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", **HSBC_HK)
    with pytest.raises(DomainError) as refused:
        bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", **HSBC_HK)
    assert refused.value.code == "duplicate_bank_account"
    assert BankAccount.objects.count() == 1


def test_review_approved_by_compliance_activates_after_cooldown(kyc_customer, compliance_officer, settings):
    account = bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", **HSBC_HK)
    wo = WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk)
    with pytest.raises(DomainError) as refused:  # the customer is the maker: never the checker
        work_order_decide(work_order=wo, actor=kyc_customer.user, decision="approve")
    assert refused.value.code in ("maker_cannot_approve", "permission_denied")
    work_order_decide(work_order=wo, actor=compliance_officer, decision="approve", comment="KYC name matches")
    account.refresh_from_db()
    assert account.status == BankAccount.Status.ACTIVE
    assert account.usable_from >= timezone.now() + settings.BANK_ACCOUNT_COOLDOWN - timedelta(minutes=1)
    assert not bank_accounts_active_for(customer=kyc_customer).exists()  # cooling down
    assert list(bank_accounts_active_for(customer=kyc_customer, usable_only=False)) == [account]
    assert [(h.from_status, h.to_status) for h in account.history.all()] == [("", "pending_review"),
                                                                            ("pending_review", "active")]


def test_review_rejected_and_archive(kyc_customer, compliance_officer):
    account = bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", **HSBC_HK)
    wo = WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk)
    work_order_decide(work_order=wo, actor=compliance_officer, decision="reject", comment="Statement unreadable")
    account.refresh_from_db()
    assert account.status == BankAccount.Status.REJECTED
    other = bank_account_register(customer=kyc_customer, holder_name="Chan Tai Man", rail="FPS", currency="HKD",
                                  fps_id="123456789")
    bank_account_archive(bank_account=other, actor=kyc_customer.user)
    other.refresh_from_db()
    assert other.status == BankAccount.Status.ARCHIVED
    assert WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=other.pk).status == "cancelled"


def test_customer_without_kyc_name_cannot_register(customer):
    with pytest.raises(DomainError) as refused:
        bank_account_register(customer=customer, holder_name="Anyone", **HSBC_HK)
    assert refused.value.code == "kyc_required"
    _nothing_changed()
