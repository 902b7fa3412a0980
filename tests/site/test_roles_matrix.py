"""Each role opens exactly the admin pages and runs exactly the actions ROLE_ACCESS says
(withdrawals_site/roles.py), and docs/ROLES.md is the rendering of that table.

Pages: GET every registered admin changelist as a member of the role. Actions: POST each action
with one selected id that matches no row: an offered action runs on nothing (harmless), a
refused one answers "No action selected." and never runs."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse

from tests.fixtures.factories import StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals_site.management.commands.roles_matrix import DOC, admin_pages_and_actions, allowed, render
from withdrawals_site.roles import AUDITORS, ROLES, role_grant

pytestmark = pytest.mark.django_db

NO_ROW = "987654321"


def member(role: str):
    user = StaffFactory()
    role_grant(user=user, role=role)
    return user


def changelist(label: str) -> str:
    app_label, model = label.split(".")
    return reverse(f"admin:{app_label}_{model}_changelist")


def action_ran(client, label: str, action: str) -> bool:
    """Whether the action ran: it answered its own page (reason form, CSV) or redirected without
    Django's "No action selected." (the answer to an action the user is not offered)."""
    client.cookies.pop("messages", None)  # only this request's messages
    response = client.post(changelist(label), {"action": action, "index": "0", "_selected_action": [NO_ROW]})
    if response.status_code == 403:
        return False
    if "No action selected." in [str(m) for m in get_messages(response.wsgi_request)]:
        return False
    return not is_change_list(response)  # no actions at all: the list again


def is_change_list(response) -> bool:
    templates = getattr(response, "template_name", None) or []
    templates = [templates] if isinstance(templates, str) else templates
    return any("change_list" in name for name in templates)


@pytest.mark.parametrize("role", [r.key for r in ROLES])
def test_each_role_opens_and_runs_exactly_what_its_table_says(client, role):
    login_verified_staff(client, member(role))
    wrong = []
    for label, actions in admin_pages_and_actions():
        response = client.get(changelist(label))
        status = response.status_code
        assert status in (200, 302, 403), (label, status)
        if (status != 403) != allowed(role, "pages", label):
            wrong.append(f"page {label}: got {status}")
        if status == 403:
            continue  # every POST to a page one may not view is a 403 too
        if not is_change_list(response):
            assert not actions, label  # a page of its own (My queue, Fee reserve): no actions
            continue
        for action in [*actions, "delete_selected"]:
            ran = action_ran(client, label, action)
            expected = action != "delete_selected" and allowed(role, "actions", f"{label}:{action}")
            if ran != expected:
                wrong.append(f"action {label}:{action}: ran={ran}")
    assert wrong == []


def test_an_action_not_offered_is_refused_on_post(client):
    """Posting an action the role lacks runs nothing (Django answers "No action selected.")."""
    login_verified_staff(client, member("ops_checker"))  # has actions on addresses, none of them "revoke"
    assert not action_ran(client, "withdrawals.customeraddress", "revoke_addresses")
    assert action_ran(client, "withdrawals.customeraddress", "approve_addresses")


def test_every_admin_action_declares_a_permission_other_than_view():
    """Only reads (the CSV export) may run on a view permission."""
    from django.contrib import admin

    reads = {("ledger.securitiesposting", "export_csv")}
    missing = []
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"chains", "ledger", "customers", "approvals", "withdrawals", "events"}:
            continue
        for action in model_admin.actions or []:
            func = getattr(model_admin, action) if isinstance(action, str) else action
            perms = set(getattr(func, "allowed_permissions", ()))
            if not perms or (perms <= {"view"} and (model._meta.label_lower, func.__name__) not in reads):
                missing.append(f"{model._meta.label_lower}:{func.__name__} {sorted(perms)}")
    assert missing == []


def test_the_auditor_has_every_view_permission_and_nothing_else():
    permissions = Group.objects.get(name=AUDITORS).permissions.all()
    from django.contrib.auth.models import Permission

    assert {p.codename for p in permissions} == set(
        Permission.objects.filter(codename__startswith="view_").values_list("codename", flat=True))


def test_no_role_group_holds_a_superuser_or_user_and_group_permissions():
    for role in ROLES:
        group = Group.objects.get(name=role.group)
        codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
        assert not {c for c in codenames if c[0] == "auth" and not c[1].startswith("view_")}, role.key


def test_docs_roles_md_is_generated_from_the_table():
    assert DOC.read_text() == render(), "docs/ROLES.md is out of date: run manage.py roles_matrix"
    call_command("roles_matrix", "--check", verbosity=0)
