"""The desk in a real browser (headless Chromium driven by Playwright) against a live server, a
real Celery worker and a real anvil node: a customer requests through the App API a withdrawal
that screening flags (the flow has two steps), operations and compliance each approve their step
on the order page, the desk shows it in flight, then completed; a read-only auditor opens every
admin page and can change nothing.

Screenshots land in var/test-artifacts/ (git-ignored); docs/screenshots/desk*.png are copied from
them (scripts/screenshots or by hand)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import NoReverseMatch, reverse

from approvals.defaults import COMPLIANCE
from approvals.models import RiskListEntry, WorkOrder
from tests.fixtures.factories import StaffFactory
from tests.fixtures.pipeline import make_scene, mine_and_sweep, wait_status
from tests.fixtures.staff import staff_authenticator, unused_code
from tests.staff.test_browser_login import ARTIFACTS, PASSWORD, browser_page  # noqa: F401 - the fixture
from withdrawals.models import WithdrawalOrder

pytestmark = [pytest.mark.chain, pytest.mark.worker]
S = WithdrawalOrder.Status


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"desk-{name}.png"), full_page=True)


def sign_in(page, base: str, user) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", unused_code(staff_authenticator(user)))
    page.click("#login-form input[type=submit]")
    page.wait_for_selector("#desk-alerts")  # the desk is the index


def staff(username: str, *perms: str, groups=()) -> object:
    user = StaffFactory(username=username)
    user.set_password(PASSWORD)
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    staff_authenticator(user)
    return user


def approve_on_the_order_page(page, base: str, order) -> None:
    page.goto(f"{base}{reverse('admin:withdrawals_withdrawalorder_change', args=[order.pk])}")
    page.wait_for_selector("#timeline")
    page.fill(".approval-panel input[name=comment]", "checked in the browser")
    page.click(".approval-panel input[name=_approve]")
    page.wait_for_load_state()


def test_a_flagged_withdrawal_two_approvals_in_the_browser_then_the_desk_follows_it(
        transactional_db, live_server, browser_page, anvil, pipeline_hot_wallet, demo_token,  # noqa: F811
        pipeline_worker, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    page, base = browser_page, live_server.url
    scene = make_scene(anvil, pipeline_hot_wallet, demo_token)
    RiskListEntry.objects.create(address=scene.recipient, category="gambling", level="high", source="test list")
    ops = scene.approver
    ops.username, ops.is_staff = "ops-desk", True
    ops.set_password(PASSWORD)
    ops.save()
    ops.user_permissions.add(*Permission.objects.filter(codename__in=["view_withdrawalorder", "view_workorder"]))
    staff_authenticator(ops)
    compliance = staff("compliance-desk", "view_withdrawalorder", "view_workorder", groups=[COMPLIANCE])

    order = scene.request("ETH", "0.4")  # the App API, with the customer's OTP
    work_order = WorkOrder.objects.get(object_id=order.pk, type="atm.va.coin_withdraw_apply")
    assert work_order.screening_outcome == "alert" and work_order.steps.count() >= 2

    sign_in(page, base, ops)
    assert page.locator("#desk-queue a.n").first.inner_text() == "1"  # waiting for me
    shot(page, "1-ops-desk")
    approve_on_the_order_page(page, base, order)
    assert status_of(order) == S.PENDING_APPROVAL  # compliance still to decide
    shot(page, "2-ops-approved-step")

    sign_in(page, base, compliance)
    approve_on_the_order_page(page, base, order)
    order = wait_status(order, S.BROADCASTING, S.CONFIRMING)
    page.goto(f"{base}/admin/")
    in_flight = sum(int(page.locator(f"#desk-states tr[data-status={s}] a.n").inner_text())
                    for s in ("broadcasting", "confirming"))
    assert in_flight == 1
    shot(page, "3-desk-in-flight")
    page.goto(f"{base}{reverse('admin:withdrawals_withdrawalorder_change', args=[order.pk])}")
    assert "Screening: alert" in page.locator("#timeline").inner_text()
    shot(page, "4-order-timeline")

    order = wait_status(order, S.COMPLETED, tick=mine_and_sweep(scene.anvil))
    page.goto(f"{base}/admin/")
    volume = page.locator("#desk-volume").inner_text()
    assert "ETH/ETH" in volume and "0.4 ETH" in volume
    shot(page, "5-desk-completed")
    assert scene.recipient_balance(scene.eth) == Decimal("0.4")


def status_of(order) -> str:
    return WithdrawalOrder.objects.filter(pk=order.pk).values_list("status", flat=True).get()


def _admin_pages(order) -> list[str]:
    urls = [reverse("admin:index"), reverse("desk-apps"),
            reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk])]
    for model in admin.site._registry:
        try:
            urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        except NoReverseMatch:
            continue
    return urls


def test_a_read_only_auditor_sees_every_page_and_can_change_nothing(transactional_db, live_server,
                                                                     browser_page, settings):  # noqa: F811
    from tests.fixtures.factories import CoinFactory
    from tests.site.test_desk import _orders

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    page, base = browser_page, live_server.url
    auditor = StaffFactory(username="auditor-desk")
    auditor.set_password(PASSWORD)
    auditor.save()
    auditor.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    (order,) = _orders(CoinFactory(), 1, "awaiting_fee")

    sign_in(page, base, auditor)
    shot(page, "6-auditor-desk")
    for url in _admin_pages(order):
        response = page.goto(f"{base}{url}")
        assert response.status in (200, 302), (url, response.status)  # 302: a page that redirects (My queue)
        assert "Page not found" not in page.content() and "Forbidden" not in page.content(), url
        # Nothing to change: no add link, no action selector with an action, no Save, no action buttons.
        adds = [a.get_attribute("href") for a in page.locator("a.addlink").all()]
        assert not [h for h in adds if h and "/add/" in h], (url, adds)
        assert page.locator("input[name=_save]").count() == 0, url
        assert page.locator("#order-actions").count() == 0, url
        options = page.locator("select[name=action] option").all_inner_texts()
        assert [o for o in options if o.strip("- ")] in ([], ["Export the selected records as CSV"]), (url, options)
    # And a forged action post is refused (the action is not offered to the auditor's permissions).
    page.goto(f"{base}{reverse('admin:withdrawals_withdrawalorder_change', args=[order.pk])}")
    shot(page, "7-auditor-order")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value") if page.locator(
        "input[name=csrfmiddlewaretoken]").count() else ""
    response = page.request.post(f"{base}{reverse('admin:withdrawals_withdrawalorder_changelist')}", form={
        "csrfmiddlewaretoken": token, "action": "reject_before_sending", "_selected_action": str(order.pk),
        "index": "0", "apply": "1", "reason": "auditor tries"}, headers={"Referer": base + "/admin/"})
    assert response.status in (200, 302, 403)
    assert status_of(order) == "awaiting_fee"
