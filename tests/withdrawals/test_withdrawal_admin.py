"""Staff work withdrawals in the admin: the approval panel decides, actions call services."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from approvals.models import PriceQuote
from approvals.selectors import work_order_for_subject
from ledger.selectors import customer_balances, ledger_check
from tests.fixtures.factories import StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals.models import WithdrawalOrder

pytestmark = pytest.mark.django_db


def staff_client(client, *groups: str, perms=("view_withdrawalorder", "change_withdrawalorder")):
    user = StaffFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    login_verified_staff(client, user)
    return user


@pytest.fixture
def order(wallet, monkeypatch):
    # With prices known, 0.3 ETH (HKD 7,020) is below the Treasury sign-off value and the
    # travel-rule threshold: the operations check alone decides.
    for quote, price in (("USD", "3000"), ("HKD", "23400")):
        PriceQuote.objects.create(currency=wallet.coin.currency, quote=quote, price=Decimal(price))
    monkeypatch.setattr("withdrawals.services.orders._start_sending", lambda order_id: None)
    return WithdrawalOrder.objects.get(pk=wallet.request(amount="0.3").json()["id"])


def page(client, order):
    return client.get(reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk]))


def test_approver_sees_the_panel_and_approves_from_the_withdrawal_page(client, order):
    staff_client(client, "Withdrawal approvers")
    html = page(client, order).content.decode()
    assert "Operations check" in html and 'value="Approve"' in html
    work_order = work_order_for_subject(order)
    response = client.post(reverse("admin:approvals_workorder_decide", args=[work_order.pk]),
                           {"decision": "approve", "comment": "looks fine", "next": page_url(order)})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "approved"
    assert [(h.from_status, h.to_status) for h in order.history.all()][-1] == ("pending_approval", "approved")


def test_staff_outside_the_group_see_why_but_no_buttons(client, order):
    staff_client(client)
    html = page(client, order).content.decode()
    assert 'value="Approve"' not in html and "You cannot decide now" in html


def test_reject_before_sending_asks_for_a_reason_then_releases(client, order, wallet):
    from withdrawals.services.orders import withdrawal_approve

    withdrawal_approve(order=order, actor=None, reason="test")
    # Rejecting needs withdrawals.reject_withdrawal now (a change permission used to be enough).
    staff_client(client, perms=("view_withdrawalorder", "reject_withdrawal"))
    url = reverse("admin:withdrawals_withdrawalorder_changelist")
    form = client.post(url, {"action": "reject_before_sending", "_selected_action": [order.pk]})
    assert form.status_code == 200 and b"reason" in form.content  # the reason form first
    client.post(url, {"action": "reject_before_sending", "_selected_action": [order.pk], "apply": "1",
                      "reason": "Customer called: wrong address"})
    order.refresh_from_db()
    assert order.status == "rejected"
    assert order.history.last().reason == "Customer called: wrong address"
    (eth,) = customer_balances(customer=wallet.customer)
    assert eth["held"] == 0 and eth["available"] == Decimal("1.8")
    assert ledger_check() == []


def test_orders_cannot_be_edited_added_or_deleted(client, order):
    staff_client(client, perms=("view_withdrawalorder", "change_withdrawalorder", "add_withdrawalorder",
                                "delete_withdrawalorder"))
    assert client.get(reverse("admin:withdrawals_withdrawalorder_add")).status_code == 403
    client.post(reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk]), {"amount": "99"})
    order.refresh_from_db()
    assert order.amount == Decimal("0.3")
    assert client.get(reverse("admin:withdrawals_withdrawalorder_delete", args=[order.pk])).status_code == 403


def page_url(order) -> str:
    return reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk])


def test_stuck_filter_lists_orders_whose_newest_transaction_waits_too_long(client, wallet, settings):
    from datetime import timedelta

    from django.utils import timezone

    from withdrawals.models import WithdrawalTransaction

    settings.PIPELINE_STUCK_AFTER_SECONDS = 600
    common = dict(customer=wallet.customer, coin=wallet.coin, address=wallet.address,
                  destination=wallet.address.address, amount=Decimal("0.1"), customer_fee=Decimal("0"),
                  network_fee_estimate=Decimal("0"))
    stuck = WithdrawalOrder.objects.create(status="confirming", **common)
    bumped = WithdrawalOrder.objects.create(status="confirming", **common)
    fresh = WithdrawalOrder.objects.create(status="confirming", **common)
    old = timezone.now() - timedelta(minutes=30)
    for n, (order, ages) in enumerate([(stuck, [old]), (bumped, [old, timezone.now()]), (fresh, [timezone.now()])]):
        for i, created in enumerate(ages):
            tx = WithdrawalTransaction.objects.create(order=order, tx_hash=f"0x{n}{i}", raw="00", sender="s",
                                                      max_fee=Decimal("0.001"), state="sent")
            WithdrawalTransaction.objects.filter(pk=tx.pk).update(created_at=created)
    staff_client(client)
    page = client.get(reverse("admin:withdrawals_withdrawalorder_changelist"), {"chain": "stuck"})
    assert [o.pk for o in page.context["cl"].result_list] == [stuck.pk]
