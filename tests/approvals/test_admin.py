"""The admin: my queue, the work-order page with the approval panel, decide and travel-rule views,
and the flow / risk list / price / fee-reserve pages."""

import pytest
from django.urls import reverse

from approvals.models import ApprovalFlow, RiskListEntry, WorkOrder
from approvals.selectors import approval_panel_context, work_order_for_subject, work_order_queue
from tests.approvals.conftest import make_flow, staff_in
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db
WD = "atm.va.coin_withdraw_apply"
VIEW = ("approvals.view_workorder",)


@pytest.fixture
def flow(db):
    return make_flow(WD, [("Operations check", "Ops", 1), ("Compliance review", "Compliance", 1)])


def login(client, user):
    return login_verified_staff(client, user)


def test_my_queue_lists_what_waits_for_my_groups(client, wallet, flow, django_assert_max_num_queries):
    first, second = wallet.request(), wallet.request()
    ops, compliance = staff_in("Ops", perms=VIEW), staff_in("Compliance", perms=VIEW)
    wo1 = work_order_for_subject(first)
    assert list(work_order_queue(user=ops)) == [wo1, work_order_for_subject(second)]
    assert list(work_order_queue(user=compliance)) == []

    login(client, ops)
    url = reverse("admin:approvals_workorder_changelist")
    with django_assert_max_num_queries(15):
        page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert f"Withdrawal W{first.pk}: 0.3 ETH" in body and "Operations check" in body and "Waiting for me" in body

    from approvals.services.work_orders import work_order_decide

    work_order_decide(work_order=wo1, actor=ops, decision="approve")
    assert list(work_order_queue(user=ops)) == [work_order_for_subject(second)]
    assert list(work_order_queue(user=compliance)) == [wo1]
    assert client.get(url + "?queue=all").context["cl"].result_count == 2
    assert client.get(url + "?queue=all&q=W" + str(first.pk)).context["cl"].result_count == 1
    assert client.get(url + "?queue=all&type__exact=atm.va.address_verify").context["cl"].result_count == 0
    assert client.get(url + "?queue=all&age=1h").context["cl"].result_count == 2
    assert client.get(reverse("admin:approvals_myqueue_changelist")).status_code == 302


def test_work_order_page_shows_buttons_only_to_who_may_decide(client, wallet, flow):
    order = wallet.request()
    wo = work_order_for_subject(order)
    url = reverse("admin:approvals_workorder_change", args=[wo.pk])
    ops, outsider = staff_in("Ops", perms=VIEW), staff_in("Treasury", perms=VIEW)

    body = login(client, ops).get(url).content.decode()
    assert 'value="Approve"' in body and 'value="Reject"' in body
    assert "Screening" in body and "Operations check" in body and "Travel rule" in body

    body = login(client, outsider).get(url).content.decode()
    assert 'value="Approve"' not in body
    assert "You cannot decide now: Only members of Ops decide at step 1" in body
    # The service refuses anyway.
    response = client.post(reverse("admin:approvals_workorder_decide", args=[wo.pk]), {"decision": "approve"})
    assert response.status_code == 302
    wo.refresh_from_db()
    assert (wo.current_position, wo.decisions.count()) == (1, 0)


def test_approve_and_reject_through_the_admin(client, wallet, flow):
    order = wallet.request()
    wo = work_order_for_subject(order)
    decide = reverse("admin:approvals_workorder_decide", args=[wo.pk])
    login(client, staff_in("Ops", perms=VIEW))
    response = client.post(decide, {"decision": "approve", "next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:approvals_workorder_change", args=[wo.pk])
    wo.refresh_from_db()
    assert wo.current_position == 2

    login(client, staff_in("Compliance", perms=VIEW))
    response = client.post(decide, {"decision": "reject", "comment": ""}, follow=True)
    assert "A rejection needs a comment." in response.content.decode()
    next_url = reverse("admin:withdrawals_withdrawalorder_changelist") if _has_withdrawal_admin() else ""
    client.post(decide, {"decision": "reject", "comment": "Unclear purpose", "next": next_url})
    wo.refresh_from_db()
    order.refresh_from_db()
    assert (wo.status, order.status) == ("rejected", "rejected")
    page = client.get(reverse("admin:approvals_workorder_change", args=[wo.pk])).content.decode()
    assert "Unclear purpose" in page and "History" in page


def _has_withdrawal_admin() -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse("admin:withdrawals_withdrawalorder_changelist")
    except NoReverseMatch:
        return False
    return True


def test_travel_rule_form_captures_the_data(client, wallet, flow):
    order = wallet.request(amount="0.5")
    wo = work_order_for_subject(order)
    url = reverse("admin:withdrawals_withdrawalorder_travel_rule", args=[order.pk])
    login(client, staff_in("Compliance", perms=(*VIEW, "approvals.capture_travel_rule")))
    page = client.get(url)
    assert page.status_code == 200 and wallet.address.address in page.content.decode()
    response = client.post(url, {"originator_name": "Chan Tai Man", "originator_account": "C1",
                                 "beneficiary_name": "Chan Tai Man", "beneficiary_address": wallet.address.address,
                                 "beneficiary_vasp_name": "", "self_hosted": ""})
    assert "Name the beneficiary VASP, or declare a self-hosted wallet." in response.content.decode()
    response = client.post(url, {"originator_name": "Chan Tai Man", "originator_account": "C1",
                                 "beneficiary_name": "Chan Tai Man", "beneficiary_address": wallet.address.address,
                                 "self_hosted": "on"})
    assert response.status_code == 302  # back to the work order, where the last approval is now possible
    assert response["Location"] == reverse("admin:approvals_workorder_change", args=[wo.pk])
    order.refresh_from_db()
    assert order.travel_rule["self_hosted"] is True


def test_panel_context_for_another_admin_page(wallet, flow):
    order = wallet.request()
    ops = staff_in("Ops")
    panel = approval_panel_context(work_order_for_subject(order), ops, next_url="/admin/withdrawals/1/")
    assert panel["can_decide"] and panel["next_url"] == "/admin/withdrawals/1/"
    assert [row["step"].state for row in panel["steps"]] == ["current", "pending"]
    assert panel["travel_rule"]["required"] is False
    assert approval_panel_context(None, ops) == {"work_order": None}


def test_configuration_pages_render(client, wallet, flow):
    admin = staff_in(username="admin")
    admin.is_superuser = True
    admin.save()
    login(client, admin)
    RiskListEntry.objects.create(address="0xdead", category="scam", level="high")
    for name in ("approvalflow", "risklistentry", "pricequote", "feereserverequest", "workorder"):
        assert client.get(reverse(f"admin:approvals_{name}_changelist")).status_code == 200, name
    for name in ("approvalflow", "risklistentry", "pricequote", "feereserverequest"):
        assert client.get(reverse(f"admin:approvals_{name}_add")).status_code == 200, name
    assert client.get(reverse("admin:approvals_approvalflow_change", args=[flow.pk])).status_code == 200
    assert client.get(reverse("admin:approvals_risklistentry_changelist") + "?q=dead").context["cl"].result_count == 1
    # A used flow is read-only; the "new version" action copies it.
    response = client.post(reverse("admin:approvals_approvalflow_changelist"),
                           {"action": "new_version", "_selected_action": [flow.pk]})
    assert response.status_code == 302
    copy = ApprovalFlow.objects.get(type=WD, version=flow.version + 1)
    assert not copy.active and copy.steps.count() == 2
    # Activation waits for a second person (atm.config.change); it used to apply at once.
    client.post(reverse("admin:approvals_approvalflow_changelist"),
                {"action": "activate", "_selected_action": [copy.pk]})
    copy.refresh_from_db()
    assert not copy.active
    wo = WorkOrder.objects.get(type="atm.config.change", status="open")
    checker = staff_in("Configuration checkers", perms=VIEW)
    login(client, checker)
    client.post(reverse("admin:approvals_workorder_decide", args=[wo.pk]), {"decision": "approve"})
    copy.refresh_from_db()
    assert copy.active


def test_fee_reserve_request_through_the_admin(client, wallet):
    from chains.models import Currency

    maker = staff_in("Treasury", perms=("approvals.add_feereserverequest", "approvals.view_feereserverequest",
                                        *VIEW))
    login(client, maker)
    eth = Currency.objects.get(code="ETH")
    response = client.post(reverse("admin:approvals_feereserverequest_add"),
                           {"tenant": wallet.customer.tenant_id, "kind": "main_topup", "currency": eth.pk,
                            "amount": "3", "note": "ref"})
    assert response.status_code == 302
    wo = WorkOrder.objects.get(type="atm.va.main_account_topup")
    page = client.get(response.url).content.decode()
    assert f"WO{wo.pk}" in page and "maker of a work order cannot decide" in page
