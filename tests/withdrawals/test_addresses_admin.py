"""Staff work the address book in the admin: search, the review queue, approve / reject with a
reason through the services, history and evidence on the address; nothing edited directly."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.fixtures.factories import CustomerFactory, StaffFactory, UserFactory, eth_network
from tests.fixtures.staff import login_verified_staff
from withdrawals.models.addresses import CustomerAddress
from withdrawals.services.addresses import address_create, address_micropayment_expect, address_submit_evidence

LIST = "/admin/withdrawals/customeraddress/"
QUEUE = "/admin/withdrawals/addressreviewitem/"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = {"ETH": "0x" + "de" * 20}


@pytest.fixture
def staff_client(client, db):
    from django.contrib.auth.models import Group

    from approvals.defaults import ADDRESS_REVIEWERS

    staff = StaffFactory(is_superuser=True)  # every admin page; deciding still needs the reviewers' group
    staff.groups.add(Group.objects.get(name=ADDRESS_REVIEWERS))
    login_verified_staff(client, staff)
    client.staff = staff
    return client


@pytest.fixture
def book(customer):
    """Three addresses of the customer: one pending, one with evidence under review, one other's."""
    eth_network()
    pending = address_create(customer=customer, network_code="ETH", address="0x" + "11" * 20)
    reviewed = address_create(customer=customer, network_code="ETH", address="0x" + "22" * 20, label="exchange")
    address_submit_evidence(address=reviewed, file=SimpleUploadedFile("account.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50))
    other = address_create(customer=CustomerFactory(tenant=customer.tenant, reference="ZZ9"), network_code="ETH",
                           address="0x" + "33" * 20)
    return {"pending": pending, "reviewed": reviewed, "other": other}


def shown(response) -> set[str]:
    return {a.address for a in response.context["cl"].result_list}


def test_the_list_filters_and_searches(staff_client, book, customer, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = staff_client.get(LIST)
    assert response.status_code == 200
    assert shown(response) == {a.address for a in book.values()}
    assert shown(staff_client.get(LIST, {"status__exact": "pending_review"})) == {book["reviewed"].address}
    assert shown(staff_client.get(LIST, {"verification_method__exact": "evidence"})) == {book["reviewed"].address}
    assert shown(staff_client.get(LIST, {"q": "0x" + "33" * 20})) == {book["other"].address}
    assert shown(staff_client.get(LIST, {"q": "ZZ9"})) == {book["other"].address}
    assert shown(staff_client.get(LIST, {"q": customer.user.username})) == {book["pending"].address,
                                                                            book["reviewed"].address}


def test_the_review_queue_holds_only_addresses_awaiting_review(staff_client, book):
    response = staff_client.get(QUEUE)
    assert response.status_code == 200
    assert shown(response) == {book["reviewed"].address}


def test_approve_asks_for_a_reason_then_verifies_through_the_service(staff_client, book, settings):
    reviewed = book["reviewed"]
    form = staff_client.post(QUEUE, {"action": "approve_addresses", ACTION_CHECKBOX_NAME: [reviewed.pk]})
    assert form.status_code == 200 and b'name="reason"' in form.content
    reviewed.refresh_from_db()
    assert reviewed.status == "pending_review"

    staff_client.post(QUEUE, {"action": "approve_addresses", ACTION_CHECKBOX_NAME: [reviewed.pk], "apply": "1",
                              "reason": "Exchange statement shows the address"})
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.verification_method) == ("verified", "evidence")
    assert reviewed.usable_from == reviewed.verified_at + settings.ADDRESS_COOLDOWN
    last = reviewed.history.last()
    assert (last.from_status, last.to_status, last.actor) == ("pending_review", "verified", staff_client.staff)
    assert last.reason.startswith("Work order WO")  # decided through the review work order
    from approvals.selectors import work_order_for_subject

    [decision] = work_order_for_subject(reviewed).decisions.all()
    assert (decision.actor, decision.comment) == (staff_client.staff, "Exchange statement shows the address")


def test_reject_needs_a_reason(staff_client, book):
    reviewed = book["reviewed"]
    staff_client.post(QUEUE, {"action": "reject_addresses", ACTION_CHECKBOX_NAME: [reviewed.pk], "apply": "1",
                              "reason": ""})
    reviewed.refresh_from_db()
    assert reviewed.status == "pending_review"
    staff_client.post(QUEUE, {"action": "reject_addresses", ACTION_CHECKBOX_NAME: [reviewed.pk], "apply": "1",
                              "reason": "Screenshot is of another account"})
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.reason) == ("rejected", "Screenshot is of another account")
    assert reviewed.history.last().actor == staff_client.staff


def test_a_refused_action_is_reported_and_changes_nothing(staff_client, book):
    other = book["other"]
    staff_client.post(LIST, {"action": "revoke_addresses", ACTION_CHECKBOX_NAME: [other.pk], "apply": "1",
                             "reason": "fraud"})
    response = staff_client.post(LIST, {"action": "approve_addresses", ACTION_CHECKBOX_NAME: [other.pk],
                                        "apply": "1", "reason": "ok"}, follow=True)
    assert "no open review work order" in response.content.decode()
    other.refresh_from_db()
    assert other.status == "revoked"


def test_one_staff_members_word_does_not_verify_a_micropayment(staff_client, book, settings):
    """Formerly "Mark the micropayment seen" verified on one person's word; now the chain decides
    (tests/withdrawals/test_no_lone_insider.py) and an unreadable node changes nothing."""
    settings.CHAIN_RPC_URLS = {**settings.CHAIN_RPC_URLS, "ETH": "http://127.0.0.1:9"}  # nobody listens
    pending = address_micropayment_expect(address=book["pending"])
    response = staff_client.post(LIST, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [pending.pk],
                                        "apply": "1", "tx_hash": "0xfeed", "reason": ""}, follow=True)
    assert "nothing changed" in response.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.micropayment_tx_hash) == ("pending_verification", "")


def test_the_address_page_shows_history_and_evidence_and_edits_nothing(staff_client, book):
    reviewed = book["reviewed"]
    page = staff_client.get(f"{LIST}{reviewed.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="status"' not in html and 'name="address"' not in html
    assert "pending_review" in html  # the history inline
    evidence_url = f"{LIST}{reviewed.pk}/evidence/"
    assert evidence_url in html

    evidence = staff_client.get(evidence_url)
    assert evidence.status_code == 200
    assert b"".join(evidence.streaming_content).startswith(b"\x89PNG")

    staff_client.post(f"{LIST}{reviewed.pk}/change/", {"status": "verified", "address": "0x" + "44" * 20})
    reviewed.refresh_from_db()
    assert (reviewed.status, reviewed.address) == ("pending_review", "0x" + "22" * 20)
    assert staff_client.get(f"{LIST}add/").status_code == 403
    assert staff_client.get(f"{LIST}{reviewed.pk}/delete/").status_code == 403


def test_evidence_is_for_staff_only(client, book):
    client.force_login(UserFactory())
    response = client.get(f"{LIST}{book['reviewed'].pk}/evidence/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert CustomerAddress.objects.get(pk=book["reviewed"].pk).evidence
