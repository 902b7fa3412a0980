"""Evidence review through the real approvals engine: the work order ``atm.va.address_verify``
decides the address; an address leaving review another way closes its work order."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals.defaults import ADDRESS_REVIEWERS
from approvals.models import WorkOrder
from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from tests.fixtures.factories import StaffFactory, eth_network
from tests.fixtures.staff import login_verified_staff
from tests.withdrawals.test_addresses_support import new_signer
from withdrawals.services.addresses import (
    address_challenge_issue,
    address_create,
    address_review_decide,
    address_revoke,
    address_submit_evidence,
    address_verify_signature,
)

QUEUE = "/admin/withdrawals/addressreviewitem/"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path


def reviewer(**kwargs):
    user = StaffFactory(**kwargs)
    user.groups.add(Group.objects.get_or_create(name=ADDRESS_REVIEWERS)[0])
    return user


@pytest.fixture
def under_review(customer):
    signer = new_signer(eth_network())
    address = address_create(customer=customer, network_code="ETH", address=signer.address)
    address = address_submit_evidence(address=address,
                                      file=SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 20))
    address.signer = signer
    return address


def test_evidence_opens_an_address_verify_work_order_made_by_the_customer(under_review, customer):
    work_order = work_order_for_subject(under_review, type="atm.va.address_verify")
    assert work_order.status == WorkOrder.Status.OPEN
    assert work_order.maker == customer.user
    assert work_order.context["address"] == under_review.address


def test_the_work_orders_approval_verifies_the_address(under_review, settings):
    staff = reviewer()
    work_order = work_order_for_subject(under_review, type="atm.va.address_verify")
    work_order_decide(work_order=work_order, actor=staff, decision="approve", comment="statement matches")
    under_review.refresh_from_db()
    assert (under_review.status, under_review.verification_method) == ("verified", "evidence")
    assert under_review.usable_from == under_review.verified_at + settings.ADDRESS_COOLDOWN
    last = under_review.history.last()
    assert (last.from_status, last.to_status, last.actor) == ("pending_review", "verified", staff)


def test_the_work_orders_rejection_rejects_the_address(under_review):
    staff = reviewer()
    work_order = work_order_for_subject(under_review, type="atm.va.address_verify")
    work_order_decide(work_order=work_order, actor=staff, decision="reject", comment="not the customer's account")
    under_review.refresh_from_db()
    assert (under_review.status, under_review.reason) == ("rejected", "not the customer's account")


def test_the_review_queue_decides_through_the_work_order(under_review, client):
    staff = reviewer(is_superuser=True)
    login_verified_staff(client, staff)
    client.post(QUEUE, {"action": "approve_addresses", ACTION_CHECKBOX_NAME: [under_review.pk], "apply": "1",
                        "reason": "ok"})
    under_review.refresh_from_db()
    assert under_review.status == "verified"
    work_order = work_order_for_subject(under_review, type="atm.va.address_verify")
    assert work_order.status == WorkOrder.Status.APPROVED
    assert list(work_order.decisions.values_list("actor", "decision")) == [(staff.pk, "approve")]


def test_staff_outside_the_flows_group_cannot_decide_and_nothing_changes(under_review, client):
    login_verified_staff(client, StaffFactory(is_superuser=True))
    response = client.post(QUEUE, {"action": "approve_addresses", ACTION_CHECKBOX_NAME: [under_review.pk],
                                   "apply": "1", "reason": "ok"}, follow=True)
    assert ADDRESS_REVIEWERS in response.content.decode()
    under_review.refresh_from_db()
    assert under_review.status == "pending_review"
    assert work_order_for_subject(under_review).status == WorkOrder.Status.OPEN


def test_the_customer_never_decides_their_own_review(under_review, customer):
    customer.user.is_staff = True
    customer.user.save(update_fields=["is_staff"])
    customer.user.groups.add(Group.objects.get_or_create(name=ADDRESS_REVIEWERS)[0])
    with pytest.raises(DomainError) as refused:
        address_review_decide(address=under_review, actor=customer.user, approve=True, reason="mine")
    assert refused.value.code == "maker_cannot_approve"
    under_review.refresh_from_db()
    assert under_review.status == "pending_review"


def test_revoking_an_address_under_review_cancels_its_work_order(under_review, customer):
    address_revoke(address=under_review, actor=customer.user)
    assert work_order_for_subject(under_review).status == WorkOrder.Status.CANCELLED


def test_a_signature_during_review_verifies_and_cancels_the_work_order(under_review):
    challenge = address_challenge_issue(address=under_review)
    address_verify_signature(address=under_review, nonce=challenge.nonce,
                             signature=under_review.signer.sign(challenge.message))
    under_review.refresh_from_db()
    assert under_review.status == "verified"
    assert work_order_for_subject(under_review).status == WorkOrder.Status.CANCELLED


def test_a_refused_signature_during_review_leaves_the_work_order_open(under_review):
    challenge = address_challenge_issue(address=under_review)
    with pytest.raises(DomainError):
        address_verify_signature(address=under_review, nonce=challenge.nonce,
                                 signature=new_signer(under_review.network).sign(challenge.message))
    assert work_order_for_subject(under_review).status == WorkOrder.Status.OPEN


def test_the_address_page_shows_the_approval_panel(under_review, client):
    login_verified_staff(client, reviewer(is_superuser=True))
    page = client.get(f"/admin/withdrawals/customeraddress/{under_review.pk}/change/")
    assert page.status_code == 200
    assert 'id="approval-panel"' in page.content.decode()
