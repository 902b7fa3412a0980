"""No lone insider: one account of any role cannot verify an address and approve a withdrawal
to it alone. Each step that needs a second person refuses (maker ≠ checker, group membership,
one decision per person), through the admin as staff use it, and nothing moves."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from approvals.models import PriceQuote, WorkOrder
from approvals.selectors import work_order_for_subject
from tests.fixtures.factories import AddressFactory, StaffFactory, tron_network
from tests.fixtures.staff import login_verified_staff
from withdrawals.models import CustomerAddress, WithdrawalOrder
from withdrawals.services.addresses import WORK_ORDER_TYPE, address_micropayment_expect
from withdrawals_site.demo import DEMO_STAFF_ROLES
from withdrawals_site.roles import ROLES, ROLES_BY_KEY, role_grant

pytestmark = pytest.mark.django_db

ADDRESSES = reverse("admin:withdrawals_customeraddress_changelist")
ORDERS = reverse("admin:withdrawals_withdrawalorder_changelist")
REFUSALS = ("cannot decide it", "Only members of", "already decided")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def member(role: str):
    user = StaffFactory()
    role_grant(user=user, role=role)
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def decide(client, work_order, decision="approve", comment="ok"):
    return messages_of(client.post(reverse("admin:approvals_workorder_decide", args=[work_order.pk]),
                                   {"decision": decision, "comment": comment}))


@pytest.fixture
def tron_address(wallet, settings):
    """An address of the wallet's customer on TRON, whose adapter here cannot read transfers."""
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = {"TRON": "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"}
    address = AddressFactory(customer=wallet.customer, network=tron_network(), status="pending_verification",
                             address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", verified_at=None, usable_from=None)
    return address_micropayment_expect(address=address)


@pytest.fixture
def big_order(wallet, monkeypatch):
    """0.3 ETH valued at HKD 3,000,000: operations check, then two of Treasury."""
    for quote, price in (("USD", "1300000"), ("HKD", "10000000")):
        PriceQuote.objects.create(currency=wallet.coin.currency, quote=quote, price=Decimal(price))
    monkeypatch.setattr("withdrawals.services.orders._start_sending", lambda order_id: None)
    return WithdrawalOrder.objects.get(pk=wallet.request(amount="0.3").json()["id"])


@pytest.mark.parametrize("role", [r.key for r in ROLES])
def test_one_account_of_any_role_cannot_verify_an_address_and_approve_a_withdrawal_alone(
        client, role, tron_address, big_order):
    insider = member(role)
    login_verified_staff(client, insider)

    # 1. Verify the address alone: report its micropayment, then approve the report.
    client.post(ADDRESSES, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [tron_address.pk],
                            "apply": "1", "tx_hash": "ab" * 32, "reason": ""})
    tron_address.refresh_from_db()
    review = work_order_for_subject(tron_address, type=WORK_ORDER_TYPE)
    if insider.has_perm("withdrawals.review_address"):
        assert tron_address.status == "pending_review" and review.maker == insider  # a claim, not a proof
        assert any("cannot decide it" in m for m in decide(client, review))     # maker ≠ checker
    else:
        assert tron_address.status == "pending_verification" and review is None  # the action is not offered
    tron_address.refresh_from_db()
    assert tron_address.status != "verified"

    # 2. Approve a withdrawal alone (to an address already verified): every step it can reach
    #    refuses the same person a second time, or anyone outside the step's group.
    work_order = work_order_for_subject(big_order)
    for _ in range(4):
        answer = decide(client, work_order)
        if any(text in m for m in answer for text in REFUSALS):
            break
    else:
        pytest.fail(f"{role} decided four times in a row")
    big_order.refresh_from_db()
    work_order.refresh_from_db()
    assert (big_order.status, work_order.status) == ("pending_approval", "open")

    # A second person does the operations check: the insider still cannot finish alone.
    if work_order.current_position == 1:
        checker = member("ops_checker")
        login_verified_staff(client, checker)
        decide(client, work_order)
        login_verified_staff(client, insider)
    work_order.refresh_from_db()
    assert work_order.current_position == 3  # Treasury sign-off: 2 of Treasury
    answer = decide(client, work_order)
    if role == "treasury":
        assert any("you approved" in m for m in answer)
        answer = decide(client, work_order)
    assert any(text in m for m in answer for text in REFUSALS)
    big_order.refresh_from_db()
    assert big_order.status == "pending_approval"


def test_a_micropayment_claim_is_verified_by_a_second_person(client, tron_address):
    maker, checker = member("ops_maker"), member("ops_checker")
    login_verified_staff(client, maker)
    response = client.post(ADDRESSES, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [tron_address.pk],
                                       "apply": "1", "tx_hash": "cd" * 32, "reason": ""})
    assert any("waits for a second person" in m for m in messages_of(response))
    review = work_order_for_subject(tron_address, type=WORK_ORDER_TYPE)
    assert review.context["method"] == "micropayment" and review.context["tx_hash"] == "cd" * 32
    login_verified_staff(client, checker)
    decide(client, review)
    tron_address.refresh_from_db()
    assert (tron_address.status, tron_address.verification_method, tron_address.micropayment_tx_hash) == (
        "verified", "micropayment", "cd" * 32)
    assert tron_address.history.filter(to_status="verified", actor=checker).exists()


def test_a_micropayment_claim_without_a_hash_on_an_unreadable_chain_changes_nothing(client, tron_address):
    login_verified_staff(client, member("ops_maker"))
    response = client.post(ADDRESSES, {"action": "micropayment_seen_action",
                                       ACTION_CHECKBOX_NAME: [tron_address.pk], "apply": "1", "tx_hash": ""})
    assert any("give the transaction hash" in m for m in messages_of(response))
    tron_address.refresh_from_db()
    assert tron_address.status == "pending_verification" and not WorkOrder.objects.filter(
        object_id=tron_address.pk, type=WORK_ORDER_TYPE).exists()


# --- rejecting a pending withdrawal is a work-order decision ------------------------------------------

def reject_from_list(client, order, reason="not this one"):
    return messages_of(client.post(ORDERS, {"action": "reject_before_sending", ACTION_CHECKBOX_NAME: [order.pk],
                                            "apply": "1", "reason": reason}))


def test_reject_action_on_a_pending_order_is_the_actors_work_order_decision(client, big_order):
    checker = member("ops_checker")
    checker.user_permissions.add(Permission.objects.get(codename="reject_withdrawal"))
    login_verified_staff(client, checker)
    reject_from_list(client, big_order)
    big_order.refresh_from_db()
    work_order = WorkOrder.objects.get(pk=work_order_for_subject(big_order).pk)
    assert (big_order.status, work_order.status) == ("rejected", "rejected")
    assert work_order.decisions.get().actor == checker


def test_reject_action_by_someone_outside_the_step_group_is_refused_and_changes_nothing(client, big_order):
    login_verified_staff(client, member("ops_maker"))  # may reject before sending, decides no work order
    answer = reject_from_list(client, big_order)
    assert any("Only members of" in m for m in answer)
    big_order.refresh_from_db()
    assert big_order.status == "pending_approval" and work_order_for_subject(big_order).status == "open"


def test_withdrawal_reject_refuses_a_pending_order_with_an_open_work_order(big_order):
    from core.errors import DomainError
    from withdrawals.services.orders import withdrawal_reject

    with pytest.raises(DomainError) as refused:
        withdrawal_reject(order=big_order, actor=StaffFactory(), reason="alone")
    assert "reject it on its work order" in refused.value.detail
    big_order.refresh_from_db()
    assert big_order.status == "pending_approval"


def test_the_demo_has_two_people_in_every_group_that_decides():
    members: dict[str, set[str]] = {}
    for role, username in DEMO_STAFF_ROLES:
        for group in ROLES_BY_KEY[role].approval_groups:
            members.setdefault(group, set()).add(username)
    from approvals.defaults import DEFAULT_GROUPS

    assert {group: len(members.get(group, ())) >= 2 for group in DEFAULT_GROUPS} == dict.fromkeys(DEFAULT_GROUPS,
                                                                                                  True)


def test_the_address_was_never_verified_by_the_queue_alone(client, wallet):
    """Approve from the review queue without an open work order: refused, nothing changes."""
    address = AddressFactory(customer=wallet.customer, network=wallet.coin.network, status="pending_review",
                             verified_at=None, usable_from=None)
    login_verified_staff(client, member("ops_checker"))
    response = client.post(reverse("admin:withdrawals_addressreviewitem_changelist"), {
        "action": "approve_addresses", ACTION_CHECKBOX_NAME: [address.pk], "apply": "1", "reason": "fine"})
    assert any("no open review work order" in m for m in messages_of(response))
    assert CustomerAddress.objects.get(pk=address.pk).status == "pending_review"


# --- a micropayment is confirmed by reading the chain where the adapter can (EVM: anvil) -----------

@pytest.fixture
def eth_micropayment(anvil, wallet, settings):
    """An address of the customer that is anvil's dev account 5, with a micropayment requested."""
    deposit = anvil.accounts[6].address
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = {"ETH": deposit}
    settings.ADDRESS_MICROPAYMENT_SCAN_BLOCKS = 50  # bounded: the newest blocks only
    network = wallet.coin.network
    network.rpc_url = anvil.url
    network.save(update_fields=["rpc_url"])
    address = AddressFactory(customer=wallet.customer, network=network, address=anvil.accounts[5].address,
                             status="pending_verification", verified_at=None, usable_from=None)
    return anvil, address_micropayment_expect(address=address)


@pytest.mark.chain
def test_a_micropayment_found_on_chain_verifies_the_address(client, eth_micropayment):
    anvil, address = eth_micropayment
    anvil.send_eth(address.micropayment_to, address.micropayment_amount + Decimal("0.00000001"),
                   sender=anvil.accounts[5])  # another amount first: not it
    login_verified_staff(client, member("ops_maker"))
    response = client.post(ADDRESSES, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [address.pk],
                                       "apply": "1", "tx_hash": "", "reason": ""})
    assert any("No transfer of" in m for m in messages_of(response))
    address.refresh_from_db()
    assert address.status == "pending_verification"

    anvil.send_eth(address.micropayment_to, address.micropayment_amount, sender=anvil.accounts[5])
    client.post(ADDRESSES, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [address.pk],
                            "apply": "1", "tx_hash": "0xwhatever-staff-typed", "reason": ""})
    address.refresh_from_db()
    assert (address.status, address.verification_method) == ("verified", "micropayment")
    tx = anvil.w3.eth.get_transaction(address.micropayment_tx_hash)  # the chain's hash, not the typed one
    assert tx["from"] == address.address and tx["to"] == address.micropayment_to
    assert not WorkOrder.objects.filter(object_id=address.pk, type=WORK_ORDER_TYPE).exists()


@pytest.mark.chain
def test_a_transfer_from_another_address_does_not_verify(client, eth_micropayment):
    anvil, address = eth_micropayment
    anvil.send_eth(address.micropayment_to, address.micropayment_amount, sender=anvil.accounts[7])
    login_verified_staff(client, member("ops_maker"))
    response = client.post(ADDRESSES, {"action": "micropayment_seen_action", ACTION_CHECKBOX_NAME: [address.pk],
                                       "apply": "1", "tx_hash": "", "reason": ""})
    assert any("No transfer of" in m for m in messages_of(response))
    address.refresh_from_db()
    assert address.status == "pending_verification"
