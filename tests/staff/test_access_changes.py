"""Changes of who may do what are four-eyed (work order atm.staff.access_change): a staff member who
grants themselves or a colleague a group, staff status, a permission, or reactivates a staff
account gets a pending request that changes nothing until another configuration admin approves it;
the requester and the account concerned never approve; removals and deactivation apply at once.
The admin's User and Group pages route their saves through it."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.forms.models import model_to_dict
from django.urls import reverse

from approvals.admin_access import AccessUserAdmin
from approvals.models import AccessChange, WorkOrder
from approvals.services.access_changes import access_change_propose
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from customers.models import UserGroupEvent
from tests.fixtures.factories import CustomerFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals_site.roles import CONFIGURATION_ADMINS, TREASURY, role_grant

pytestmark = pytest.mark.django_db
ACCESS = "atm.staff.access_change"


def config_admin(username: str):
    user = StaffFactory(username=username)
    role_grant(user=user, role="config_admin")
    return user


@pytest.fixture
def alice(db):
    return config_admin("alice")


@pytest.fixture
def bob(db):
    return config_admin("bob")


def user_form(user, **changes) -> dict:
    """The admin's change form of ``user`` as the browser posts it, with ``changes``."""
    form = AccessUserAdmin.form(instance=user)
    data = {}
    for name in form.fields:
        if name == "password":
            continue
        value = form.initial.get(name)
        if name in {"groups", "user_permissions"}:
            data[name] = [obj.pk for obj in value] if value else []
        elif name in {"last_login", "date_joined"}:
            data[f"{name}_0"], data[f"{name}_1"] = ("", "") if value is None else (
                value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S"))
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for name, value in changes.items():
        if isinstance(value, bool):
            data.pop(name, None)
            if value:
                data[name] = "on"
        else:
            data[name] = value
    return data


def post_user(client, user, **changes):
    return client.post(reverse("admin:auth_user_change", args=[user.pk]), user_form(user, **changes), follow=True)


def page_messages(response) -> str:
    return " | ".join(str(m) for m in response.context["messages"])


def test_a_colleague_granted_a_group_in_the_admin_waits_until_a_second_configuration_admin_approves(
        client, alice, bob):
    colleague = StaffFactory(username="carol")
    treasury = Group.objects.get(name=TREASURY)
    login_verified_staff(client, alice)
    response = post_user(client, colleague, groups=[treasury.pk], first_name="Carol")
    assert response.status_code == 200
    assert "NOT granted yet" in page_messages(response) and "WO" in page_messages(response)
    colleague.refresh_from_db()
    assert colleague.first_name == "Carol", "the other fields save as usual"
    assert not colleague.groups.filter(pk=treasury.pk).exists(), "no effect before the second person"
    change = AccessChange.objects.get()
    assert (change.status, change.maker, change.user, change.changes) == (
        "pending", alice, colleague, {"groups": {str(treasury.pk): TREASURY}})
    wo = WorkOrder.objects.get(type=ACCESS, status="open")

    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=wo, actor=alice, decision="approve")
    assert refused.value.code == "maker_cannot_approve"
    outsider = StaffFactory()
    role_grant(user=outsider, role="treasury")
    with pytest.raises(DomainError):  # not a configuration admin
        work_order_decide(work_order=wo, actor=outsider, decision="approve")
    assert not colleague.groups.filter(pk=treasury.pk).exists()

    login_verified_staff(client, bob)
    client.post(reverse("admin:approvals_workorder_decide", args=[wo.pk]), {"decision": "approve"})
    change.refresh_from_db()
    assert change.status == "applied" and change.decided_by == bob
    assert colleague.groups.filter(pk=treasury.pk).exists()
    event = UserGroupEvent.objects.filter(user_id=colleague.pk, group_id=treasury.pk).latest("pgh_id")
    assert event.pgh_context.metadata["user"] == bob.pk and event.pgh_context.metadata["proposed_by"] == alice.pk


def test_granting_oneself_a_group_waits_and_the_requester_cannot_approve(alice, bob):
    treasury = Group.objects.get(name=TREASURY)
    change = access_change_propose(actor=alice, user=alice, groups=[*alice.groups.all(), treasury])
    assert change.status == "pending" and not alice.groups.filter(pk=treasury.pk).exists()
    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=change.work_order, actor=alice, decision="approve")
    assert refused.value.code == "maker_cannot_approve"
    work_order_decide(work_order=change.work_order, actor=bob, decision="approve")
    assert alice.groups.filter(pk=treasury.pk).exists()


def test_the_account_concerned_cannot_approve_its_own_grant_requested_by_a_colleague(alice, bob):
    treasury = Group.objects.get(name=TREASURY)
    change = access_change_propose(actor=alice, user=bob, groups=[*bob.groups.all(), treasury])
    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=change.work_order, actor=bob, decision="approve")
    assert refused.value.code == "maker_cannot_approve" and "your own account" in refused.value.detail
    assert not bob.groups.filter(pk=treasury.pk).exists()
    work_order_decide(work_order=change.work_order, actor=config_admin("dave"), decision="approve")
    assert bob.groups.filter(pk=treasury.pk).exists()


def test_a_rejected_grant_never_applies(alice, bob):
    colleague = StaffFactory()
    change = access_change_propose(actor=alice, user=colleague, groups=[Group.objects.get(name=TREASURY)])
    work_order_decide(work_order=change.work_order, actor=bob, decision="reject", comment="not on the team")
    change.refresh_from_db()
    assert change.status == "rejected" and not colleague.groups.exists()


def test_removing_a_group_and_deactivating_apply_at_once(client, alice):
    colleague = StaffFactory()
    role_grant(user=colleague, role="treasury")
    login_verified_staff(client, alice)
    response = post_user(client, colleague, groups=[], is_active=False)
    assert "removed at once" in page_messages(response)
    colleague.refresh_from_db()
    assert not colleague.groups.exists() and not colleague.is_active
    change = AccessChange.objects.get()
    assert change.status == "applied" and change.work_order is None
    assert not WorkOrder.objects.filter(type=ACCESS).exists()


def test_staff_status_and_reactivating_a_staff_account_wait(client, alice, bob):
    newcomer = StaffFactory(is_staff=False)
    former = StaffFactory(is_active=False)
    login_verified_staff(client, alice)
    post_user(client, newcomer, is_staff=True)
    post_user(client, former, is_active=True)
    newcomer.refresh_from_db()
    former.refresh_from_db()
    assert not newcomer.is_staff and not former.is_active
    for change in AccessChange.objects.filter(status="pending"):
        work_order_decide(work_order=change.work_order, actor=bob, decision="approve")
    newcomer.refresh_from_db()
    former.refresh_from_db()
    assert newcomer.is_staff and former.is_active


def test_no_superuser_is_granted_outside_the_demo(client, alice, settings):
    settings.DEBUG = False
    colleague = StaffFactory()
    login_verified_staff(client, alice)
    response = post_user(client, colleague, is_superuser=True)
    assert "Outside the demo there is no superuser" in page_messages(response)
    colleague.refresh_from_db()
    assert not colleague.is_superuser and not AccessChange.objects.exists()


def test_permissions_of_a_user_and_of_a_group_wait(client, alice, bob):
    permission = Permission.objects.get(content_type__app_label="chains", codename="flip_kill_switch")
    colleague = StaffFactory()
    group = Group.objects.get(name=CONFIGURATION_ADMINS)
    login_verified_staff(client, alice)
    post_user(client, colleague, user_permissions=[permission.pk])
    form = model_to_dict(group)
    form["permissions"] = [p.pk for p in group.permissions.all()] + [permission.pk]
    response = client.post(reverse("admin:auth_group_change", args=[group.pk]), form, follow=True)
    assert "NOT granted yet" in page_messages(response)
    assert not colleague.user_permissions.exists() and not group.permissions.filter(pk=permission.pk).exists()
    changes = AccessChange.objects.filter(status="pending")
    assert {tuple(c.changes["permissions"]) for c in changes} == {("chains.flip_kill_switch",)}
    for change in changes:
        work_order_decide(work_order=change.work_order, actor=bob, decision="approve")
    assert colleague.user_permissions.filter(pk=permission.pk).exists()
    assert group.permissions.filter(pk=permission.pk).exists()


def test_a_configuration_admin_sees_no_customer_account_and_sets_no_colleague_password(client, alice, bob):
    customer = CustomerFactory()
    login_verified_staff(client, alice)
    listing = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "bob" in listing and customer.user.username not in listing
    assert client.get(reverse("admin:auth_user_password_change", args=[bob.pk])).status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[alice.pk])).status_code == 200


def test_the_access_change_page_shows_the_approval_panel(client, alice, bob):
    change = access_change_propose(actor=alice, user=StaffFactory(), groups=[Group.objects.get(name=TREASURY)])
    login_verified_staff(client, bob)
    page = client.get(reverse("admin:approvals_accesschange_change", args=[change.pk]))
    assert page.status_code == 200 and TREASURY in page.content.decode()
