"""Securities sync records, the admin (read-only, CSV export, mark synced), balances selectors
and the ledger_check command."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from core.errors import DomainError
from ledger.models import Account, JournalEntry, SecuritiesPosting
from ledger.selectors import customer_balances, securities_unsynced
from ledger.services import ledger_hold, ledger_settle, securities_mark_synced
from tests.fixtures.factories import StaffFactory
from tests.fixtures.staff import login_verified_staff

D = Decimal


@pytest.fixture
def staff(db):
    return StaffFactory(is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    return login_verified_staff(client, staff)


def test_each_customer_instrument_leg_yields_a_securities_record(funded, eth):
    split = ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="wd-1-hold")
    ledger_settle(customer=funded, currency=eth, split=split, customer_fee=D("0.01"), reference="wd-1-settle")

    rows = [(r.reference, r.instrument, r.account_kind, r.quantity) for r in securities_unsynced()]
    assert rows == [
        ("dep-usd", "VA/HAS/ETHUSD", "customer_available", D("1.0")),
        ("dep-hkd", "VA/HAS/ETHHKD", "customer_available", D("0.8")),
        ("wd-1-hold", "VA/HAS/ETHUSD", "customer_available", D("-1.0")),
        ("wd-1-hold", "VA/HAS/ETHUSD", "customer_held", D("1.0")),
        ("wd-1-hold", "VA/HAS/ETHHKD", "customer_available", D("-0.5")),
        ("wd-1-hold", "VA/HAS/ETHHKD", "customer_held", D("0.5")),
        ("wd-1-settle", "VA/HAS/ETHUSD", "customer_held", D("-1.0")),
        ("wd-1-settle", "VA/HAS/ETHHKD", "customer_held", D("-0.5")),
    ]  # tenant legs (sub-account, revenue) yield none


def test_mark_synced_marks_once_and_names_the_actor(funded, staff):
    ids = list(securities_unsynced().values_list("leg_id", flat=True))
    assert securities_mark_synced(record_ids=ids[:1], actor=staff) == 1
    assert securities_mark_synced(record_ids=ids, actor=staff) == len(ids) - 1
    assert securities_mark_synced(record_ids=ids, actor=staff) == 0
    assert not securities_unsynced().exists()
    assert set(SecuritiesPosting.objects.values_list("synced_by", flat=True)) == {staff.pk}
    with pytest.raises(DomainError):
        securities_mark_synced(record_ids=ids, actor=None)


def test_mark_synced_ignores_what_is_not_a_record(funded, staff):
    from ledger.models import JournalLeg

    tenant_leg = JournalLeg.objects.filter(account__customer__isnull=True).values_list("pk", flat=True).first()
    assert securities_mark_synced(record_ids=[tenant_leg, 10**9], actor=staff) == 0
    assert securities_mark_synced(record_ids=[], actor=staff) == 0


def test_records_follow_the_legs_and_the_unsynced_query_is_one_statement(funded, eth, staff,
                                                                         django_assert_num_queries):
    ledger_hold(customer=funded, currency=eth, amount=D("0.2"), reference="h")
    assert securities_mark_synced(record_ids=list(securities_unsynced().values_list("leg_id", flat=True)[:2]),
                                  actor=staff) == 2
    with django_assert_num_queries(1):
        rows = [(r.reference, r.customer.reference, r.quantity) for r in securities_unsynced()]
    assert rows == [("h", funded.reference, D("-0.2")), ("h", funded.reference, D("0.2"))]


def test_admin_exports_csv_and_marks_synced(funded, staff_client):
    url = reverse("admin:ledger_securitiesposting_changelist")
    ids = list(securities_unsynced().values_list("leg_id", flat=True))

    response = staff_client.post(url, {"action": "export_csv", "_selected_action": ids})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(x["instrument"], x["quantity"], x["reference"]) for x in lines] == [
        ("VA/HAS/ETHUSD", "1", "dep-usd"), ("VA/HAS/ETHHKD", "0.8", "dep-hkd")]
    assert securities_unsynced().count() == 2  # exporting marks nothing

    response = staff_client.post(url, {"action": "mark_synced", "_selected_action": ids})
    assert response.status_code == 302
    assert not securities_unsynced().exists()
    assert staff_client.get(url + "?synced=no").status_code == 200


@pytest.mark.parametrize("model", ["account", "journalentry", "journalleg", "securitiesposting"])
def test_admin_pages_are_read_only(funded, staff_client, model):
    changelist = reverse(f"admin:ledger_{model}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(reverse(f"admin:ledger_{model}_add")).status_code == 403
    obj = {"account": Account, "journalentry": JournalEntry, "journalleg": None,
           "securitiesposting": SecuritiesPosting}[model]
    if obj is not None:
        pk = obj.objects.values_list("pk", flat=True).first()
        page = staff_client.get(reverse(f"admin:ledger_{model}_change", args=[pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
        assert staff_client.get(reverse(f"admin:ledger_{model}_delete", args=[pk])).status_code == 403


def test_admin_filters(funded, staff_client):
    for query in ["owner=customer", "owner=tenant", "kind__exact=customer_held", "instrument=VA/HAS/ETHUSD",
                  "currency__code__exact=ETH", "created_at__gte=2000-01-01T00:00:00%2B00:00"]:
        assert staff_client.get(reverse("admin:ledger_account_changelist") + "?" + query).status_code == 200
    for query in ["owner=customer", "account__kind=sub_account", "account__instrument=VA/HAS/ETHHKD"]:
        assert staff_client.get(reverse("admin:ledger_journalleg_changelist") + "?" + query).status_code == 200


def test_customer_balances_in_one_query(funded, eth, btc, django_assert_num_queries):
    from ledger.services import ledger_deposit

    ledger_deposit(customer=funded, currency=btc, quote="USD", amount=D("0.5"), reference="btc")
    ledger_hold(customer=funded, currency=eth, amount=D("1.5"), reference="h")
    with django_assert_num_queries(1):
        balances = customer_balances(customer=funded)
    assert balances == [
        {"currency": "BTC", "available": D("0.5"), "held": D(0),
         "instruments": [{"instrument": "VA/HAS/BTCUSD", "available": D("0.5"), "held": D(0)}]},
        {"currency": "ETH", "available": D("0.3"), "held": D("1.5"),
         "instruments": [{"instrument": "VA/HAS/ETHHKD", "available": D("0.3"), "held": D("0.5")},
                         {"instrument": "VA/HAS/ETHUSD", "available": D(0), "held": D("1.0")}]},
    ]


def test_ledger_check_command(funded, capsys):
    call_command("ledger_check")
    assert "healthy" in capsys.readouterr().out

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's postings are checked before the damage
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE ledger_leg SET amount = amount - 0.5 WHERE id = (SELECT min(id) FROM ledger_leg)")
        cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError) as exc:
        call_command("ledger_check")
    assert exc.value.returncode == 1
    err = capsys.readouterr().err
    assert "(dep-usd): its ETH legs sum to -0.5, not 0" in err
    assert "stored balance" in err
