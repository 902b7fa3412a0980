"""What staff read on a journal entry: its legs, readable amounts, the withdrawal it belongs to."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ledger.models import JournalEntry
from ledger.services import ledger_deposit, ledger_hold
from tests.fixtures.factories import CurrencyFactory, CustomerFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db


def test_a_viewer_of_entries_sees_legs_amounts_and_the_withdrawal(client):
    CurrencyFactory(code="ETH", decimals=18)
    customer = CustomerFactory()
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("2"), reference="dep")
    ledger_hold(customer=customer, currency="ETH", amount=Decimal("0.2505"), reference="withdrawal:42:hold")
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_journalentry"))  # not view_journalleg
    login_verified_staff(client, staff)

    entry = JournalEntry.objects.get(reference="withdrawal:42:hold")
    page = client.get(reverse("admin:ledger_journalentry_change", args=[entry.pk])).content.decode()
    assert "0.2505 ETH" in page and "0.250500000000000000" not in page  # debit and credit, readable
    assert reverse("admin:withdrawals_withdrawalorder_change", args=[42]) in page

    # The search is on the reference's beginning (index-backed); by instrument, use the legs list's filter.
    listing = client.get(reverse("admin:ledger_journalentry_changelist"), {"q": "withdrawal:42:"}).content.decode()
    assert "0.2505 ETH" in listing and "2 ETH" not in listing
    assert "2 ETH" in client.get(reverse("admin:ledger_journalentry_changelist"), {"q": "dep"}).content.decode()
