"""Tax report jobs end to end on the real ledger: the API (a customer's own reports only), the
job's moves, the files (byte-identical for the same inputs), the admin, the OpenAPI schema."""

import csv
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import PriceQuote
from ledger.services import ledger_deposit, ledger_hold, ledger_settle
from tax.models import TaxReport
from tax.services import tax_report_build, tax_report_request
from tests.approvals.conftest import staff_in
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals.models import WithdrawalOrder
from withdrawals_site.roles import role_grant

pytestmark = pytest.mark.django_db
D = Decimal


def withdraw(customer, coin, address, amount: str, fee: str) -> WithdrawalOrder:
    """A completed withdrawal as the pipeline leaves it in the ledger: hold, then settle."""
    order = WithdrawalOrder.objects.create(customer=customer, coin=coin, address=address,
                                           destination=address.address, amount=D(amount), customer_fee=D(fee),
                                           network_fee_estimate=D(0), status="completed")
    split = ledger_hold(customer=customer, currency="ETH", amount=D(amount) + D(fee),
                        reference=f"withdrawal:{order.pk}:hold")
    ledger_settle(customer=customer, currency="ETH", split=split, customer_fee=D(fee),
                  reference=f"withdrawal:{order.pk}:settle")
    return order


@pytest.fixture
def history(db):
    """Deposits (one with a stated cost, one valued at the price then), a withdrawal to an address
    proven by signature (a transfer) and one to an address accepted on evidence (a disposal)."""
    coin = CoinFactory()
    customer = CustomerFactory()
    PriceQuote.objects.create(currency=coin.currency, quote="HKD", price=D("20000"))
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=D("1"), reference="dep-1",
                   cost=D("15000"), cost_fiat="HKD")
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=D("0.5"), reference="dep-2")
    own = AddressFactory(customer=customer, network=coin.network, verification_method="signature")
    elsewhere = AddressFactory(customer=customer, network=coin.network, verification_method="evidence")
    withdraw(customer, coin, own, "0.2", "0.001")
    withdraw(customer, coin, elsewhere, "0.3", "0.001")
    client = APIClient()
    client.force_authenticate(customer.user)
    return customer, client


def build(client, **body):
    response = client.post("/api/v1/tax-reports/", {"year": timezone.now().year, "fiat": "HKD", "method": "fifo",
                                                    **body}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "queued" and response.json()["files"] == {}
    tax_report_build(report_id=response.json()["id"])
    return client.get(f"/api/v1/tax-reports/{response.json()['id']}/").json()


def rows(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_ready_report_with_its_files(history):
    customer, client = history
    report = build(client)
    assert report["status"] == "ready"
    assert sorted(report["files"]) == ["gains.csv", "koinly.csv", "lots.csv", "statement.pdf"]
    lots = rows(client, report["files"]["lots.csv"])
    assert [(r["reference"], r["quantity"], r["cost"], r["flags"]) for r in lots] == [
        ("dep-1", "1", "15000.00", "cost stated by staff"), ("dep-2", "0.5", "10000.00", "cost at the price then")]
    gains = rows(client, report["files"]["gains.csv"])
    # FIFO: the transfer (0.2 + 0.001 fee) and the disposal (0.3 + 0.001 fee) both from the 15,000 lot.
    assert [(r["kind"], r["quantity"], r["fee_quantity"], r["proceeds"], r["cost_basis"], r["gain"])
            for r in gains] == [
        ("transfer", "0.2", "0.001", "", "3015.00", ""),
        ("disposal", "0.3", "0.001", "6000.00", "4515.00", "1485.00")]
    assert report["summary"]["ETH"]["gain"] == "1485.00"
    koinly = rows(client, report["files"]["koinly.csv"])
    assert [k for k in koinly[0]] == ["Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency",
                                      "Fee Amount", "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label",
                                      "Description", "TxHash"]
    assert (koinly[0]["Received Amount"], koinly[0]["Net Worth Amount"]) == ("1", "15000.00")
    pdf = client.get(report["files"]["statement.pdf"])
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    statuses = list(TaxReport.objects.get(pk=report["id"]).history.values_list("to_status", flat=True))
    assert statuses == ["queued", "running", "ready"]


def test_the_same_inputs_give_byte_identical_files(history):
    _, client = history
    first, second = build(client, method="hifo"), build(client, method="hifo")
    assert first["id"] != second["id"]
    for kind in first["files"]:
        a, b = client.get(first["files"][kind]), client.get(second["files"][kind])
        assert a.content == b.content, kind
        assert a["X-Content-SHA256"] == b["X-Content-SHA256"]


def test_another_customers_report_is_not_found(history):
    _, client = history
    report = build(client)
    stranger = APIClient()
    stranger.force_authenticate(CustomerFactory().user)
    assert stranger.get(f"/api/v1/tax-reports/{report['id']}/").json()["code"] == "not_found"
    assert stranger.get(report["files"]["lots.csv"]).status_code == 404
    assert client.get(f"/api/v1/tax-reports/{report['id']}/files/nope.csv").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"year": 2026, "from": "2026-01-01", "to": "2026-02-01"}, "year"),
    ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
    ({"from": "2026-03-01"}, "to"),
    ({"year": 2026, "method": "lifo"}, "method"),
    ({"year": 2026, "fiat": "EUR"}, "fiat"),
])
def test_bad_input_changes_nothing(history, body, field):
    _, client = history
    response = client.post("/api/v1/tax-reports/", {"fiat": "HKD", "method": "fifo", **body}, format="json")
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", field)
    assert not TaxReport.objects.exists()


def test_the_build_runs_as_a_task_on_commit(history, monkeypatch, django_capture_on_commit_callbacks):
    from tax import tasks

    customer, _ = history
    monkeypatch.setattr(tasks.tax_report_build_task, "delay", lambda report_id: tasks.tax_report_build_task(report_id))
    with django_capture_on_commit_callbacks(execute=True):
        report = tax_report_request(customer=customer, actor=customer.user, fiat="USD", method="average", year=2026)
    report.refresh_from_db()
    assert report.status in ("ready", "failed")
    assert report.status == "ready", report.error


def test_a_failing_build_is_failed_with_its_error(history, monkeypatch):
    customer, _ = history
    report = tax_report_request(customer=customer, actor=customer.user, fiat="HKD", method="fifo", year=2026)

    def broken(**kwargs):
        raise RuntimeError("no fonts")

    monkeypatch.setattr("tax.services.tax_report_compute", broken)
    report = tax_report_build(report_id=report.pk)
    assert (report.status, report.error) == ("failed", "RuntimeError: no fonts")
    assert tax_report_build(report_id=report.pk).status == "failed"  # a redelivered task changes nothing


def test_staff_generate_for_any_customer_from_the_admin(client, history):
    customer, _ = history
    maker = StaffFactory()
    role_grant(user=maker, role="ops_maker")
    login_verified_staff(client, maker)
    response = client.post("/admin/tax/taxreport/add/", {"customer": customer.pk, "year": "2026", "fiat": "HKD",
                                                         "method": "hifo", "fee_as": "disposal"})
    assert response.status_code == 302
    report = TaxReport.objects.get()
    assert (report.customer, report.requested_by, report.fee_as) == (customer, maker, "disposal")
    tax_report_build(report_id=report.pk)
    page = client.get(f"/admin/tax/taxreport/{report.pk}/change/")
    assert b"statement.pdf" in page.content
    download = client.get(f"/admin/tax/taxreport/{report.pk}/file/lots.csv")
    assert download.status_code == 200 and download.content.startswith(b"lot,")


def test_staff_without_the_permission_cannot_generate(client, history):
    customer, _ = history
    login_verified_staff(client, staff_in("Treasury"))
    assert client.get("/admin/tax/taxreport/add/").status_code == 403
    with pytest.raises(Exception) as info:
        tax_report_request(customer=customer, actor=staff_in("Treasury"), fiat="HKD", method="fifo", year=2026)
    assert getattr(info.value, "code", None) == "permission_denied"


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert {"/api/v1/tax-reports/", "/api/v1/tax-reports/{report_id}/",
            "/api/v1/tax-reports/{report_id}/files/{kind}"} <= set(schema["paths"])
    body = schema["components"]["schemas"]["TaxReportInputRequest"]["properties"]
    assert {"year", "from", "to", "fiat", "method", "fee_as"} <= set(body)
