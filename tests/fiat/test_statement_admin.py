"""Treasury imports a bank statement from the admin: the upload runs the matching service, an
unmatched line waits on the review list; staff without the permission get nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fiat.models import BankStatement, StatementLine
from tests.fiat.conftest import staff_in
from tests.fiat.test_cashout_path import camt053, debit_entry
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db


def _upload(client, tenant, content: bytes):
    return client.post(reverse("admin:fiat_bankstatement_import"), {
        "tenant": tenant.pk, "format": "camt053",
        "file": SimpleUploadedFile("statement.xml", content, content_type="application/xml")})


def test_treasury_imports_a_statement_and_its_unknown_line_waits_for_review(client, tenant):
    treasurer = staff_in("Treasury", username="treasury-upload")
    treasurer.user_permissions.add(Permission.objects.get(codename="import_bankstatement"),
                                   Permission.objects.get(codename="view_bankstatement"))
    login_verified_staff(client, treasurer)
    assert b"Import a statement" in client.get(reverse("admin:fiat_bankstatement_changelist")).content

    response = _upload(client, tenant, camt053("STMT-ADMIN", Decimal("0"), [
        debit_entry("NOT-OURS-1", Decimal("12.34"), "BANKREF-1")]))

    statement = BankStatement.objects.get(statement_id="STMT-ADMIN")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:fiat_bankstatement_change", args=[statement.pk])
    assert StatementLine.objects.get(statement=statement).outcome == "unmatched"


def test_without_the_permission_no_upload_and_nothing_imported(client, tenant):
    clerk = staff_in("Operations checkers", username="ops-upload")
    login_verified_staff(client, clerk)
    response = _upload(client, tenant, camt053("STMT-NOPE", Decimal("0"), []))
    assert response.status_code == 403
    assert not BankStatement.objects.filter(statement_id="STMT-NOPE").exists()
