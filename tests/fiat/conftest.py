"""Fixtures of the fiat tests: a KYC'd customer, staff of the deciding groups, bank accounts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals.defaults import COMPLIANCE, TREASURY, WITHDRAWAL_APPROVERS
from tests.fixtures.factories import CustomerFactory, StaffFactory


def staff_in(*groups: str, username: str | None = None):
    kwargs = {"username": username} if username else {}
    user = StaffFactory(**kwargs)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def kyc_customer(db, tenant):
    return CustomerFactory(tenant=tenant, legal_name="CHAN Tai Man", country="HK", kyc_level=2)


@pytest.fixture
def compliance_officer(db):
    return staff_in(COMPLIANCE, username="compliance-a")


@pytest.fixture
def ops_approver(db):
    return staff_in(WITHDRAWAL_APPROVERS, username="ops-a")


@pytest.fixture
def treasurer(db):
    return staff_in(TREASURY, username="treasury-a")


HSBC_HK = {"rail": "FPS", "currency": "HKD", "bank_code": "004", "account_number": "123456789012"}
