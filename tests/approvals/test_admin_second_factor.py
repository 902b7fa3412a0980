"""Approve and reject in the admin ask for a fresh second factor when the last code is older
than STAFF_OTP_FRESH_SECONDS; the decision is made only after the code, and only once."""

import pytest
from django.urls import reverse

from approvals.selectors import work_order_for_subject
from tests.approvals.conftest import make_flow, staff_in
from tests.fixtures.staff import age_second_factor, login_verified_staff, staff_authenticator, unused_code

pytestmark = pytest.mark.django_db
WD = "atm.va.coin_withdraw_apply"
VIEW = ("approvals.view_workorder",)


@pytest.fixture
def flow(db):
    return make_flow(WD, [("Operations check", "Ops", 1), ("Compliance review", "Compliance", 1)])


def test_an_approval_after_16_idle_minutes_asks_for_the_code_then_goes_through(client, wallet, flow):
    wo = work_order_for_subject(wallet.request())
    decide = reverse("admin:approvals_workorder_decide", args=[wo.pk])
    ops = staff_in("Ops", perms=VIEW)
    login_verified_staff(client, ops)
    age_second_factor(client, 16 * 60)

    response = client.post(decide, {"decision": "approve"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))
    wo.refresh_from_db()
    assert (wo.current_position, wo.decisions.count()) == (1, 0)

    page = client.post(response["Location"], {"otp_token": unused_code(staff_authenticator(ops))})
    assert page.status_code == 200 and f'action="{decide}"' in page.content.decode()
    client.post(decide, {"decision": "approve"})  # the Continue button
    wo.refresh_from_db()
    assert (wo.current_position, wo.decisions.count()) == (2, 1)


def test_a_rejection_with_a_stale_code_changes_nothing(client, wallet, flow):
    order = wallet.request()
    wo = work_order_for_subject(order)
    login_verified_staff(client, staff_in("Ops", perms=VIEW))
    age_second_factor(client, 16 * 60)
    client.post(reverse("admin:approvals_workorder_decide", args=[wo.pk]), {"decision": "reject", "comment": "no"})
    wo.refresh_from_db()
    order.refresh_from_db()
    assert (wo.status, order.status) == ("open", "pending_approval")
