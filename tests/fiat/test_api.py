"""The App API of the cash-out: bank accounts shown masked, codes in the error shape, quotes and
sells, another customer's objects are 404."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from approvals.models import PriceQuote
from fiat.models import BankAccount, Sell
from ledger.services import ledger_deposit
from tests.fixtures.factories import CurrencyFactory, CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("otp_codes")]


@pytest.fixture
def app(kyc_customer):
    client = APIClient()
    client.force_authenticate(kyc_customer.user)
    return client


def test_bank_account_registered_and_shown_masked(app, kyc_customer):
    response = app.post("/api/v1/bank-accounts/", {"holder_name": "Chan Tai Man", "currency": "USD", "rail": "SWIFT",
                                                  "bic": "DEUTDEFF", "iban": "DE89370400440532013000"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending_review" and body["number"].endswith("3000")
    assert "DE89370400440532013000" not in response.content.decode()
    listed = app.get("/api/v1/bank-accounts/").json()
    assert [a["id"] for a in listed] == [body["id"]]
    other = APIClient()
    other.force_authenticate(CustomerFactory(tenant=kyc_customer.tenant).user)
    assert other.get(f"/api/v1/bank-accounts/{body['id']}/").status_code == 404


@pytest.mark.parametrize("body, code", [
    ({"holder_name": "Chan Tai Man", "currency": "USD", "rail": "SWIFT", "bic": "DEUTDEFF",
      "iban": "DE00370400440532013000"}, "invalid_iban"),
    ({"holder_name": "Chan Tai Man", "currency": "USD", "rail": "SWIFT", "bic": "NOTABIC",
      "account_number": "12345678"}, "invalid_bic"),
    ({"holder_name": "Chan Tai Man", "currency": "HKD", "rail": "CHATS", "bank_code": "123",
      "account_number": "12345678"}, "invalid_bank_code"),
    ({"holder_name": "Chan Tai Man", "currency": "USD", "rail": "FPS", "fps_id": "1234567"}, "currency_not_on_rail"),
    ({"holder_name": "Someone Else", "currency": "HKD", "rail": "FPS", "fps_id": "1234567"}, "name_mismatch"),
])
def test_bank_account_codes_in_the_error_shape_change_nothing(app, body, code):
    response = app.post("/api/v1/bank-accounts/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code and set(response.json()) == {"code", "detail", "field"}
    assert BankAccount.objects.count() == 0


def test_quote_and_sell_through_the_api(app, kyc_customer):
    eth = CurrencyFactory(code="ETH", decimals=18)
    ledger_deposit(customer=kyc_customer, currency="ETH", quote="USD", amount=Decimal("1"), reference="d")
    response = app.post("/api/v1/quotes/", {"sell_currency": "ETH", "sell_amount": "0.5", "fiat": "HKD"},
                        format="json")
    assert response.status_code == 503 and response.json()["code"] == "price_unavailable"
    PriceQuote.objects.create(currency=eth, quote="HKD", price=Decimal("20000"))
    quote = app.post("/api/v1/quotes/", {"sell_currency": "ETH", "sell_amount": "0.5", "fiat": "HKD"},
                     format="json").json()
    assert quote["price"] == "19800" and quote["fiat_amount"] == "9900"
    assert app.post("/api/v1/sells/", {"quote_id": quote["id"], "otp": "123456"},
                    format="json").json()["code"] == "idempotency_key_required"
    for key in (" k1", "k1 ", "k" * 101, "ключ"):  # the one rule of core/idempotency.py, as the schema says
        assert app.post("/api/v1/sells/", {"quote_id": quote["id"], "otp": "123456"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=key).json()["code"] == "idempotency_key_required"
    sold = app.post("/api/v1/sells/", {"quote_id": quote["id"], "otp": "123456"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="k1")
    assert sold.status_code == 201 and sold.json()["fiat_amount"] == "9900"
    again = app.post("/api/v1/sells/", {"quote_id": quote["id"], "otp": "123456"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="k2")
    assert again.status_code == 409 and again.json()["code"] == "quote_used"
    assert Sell.objects.count() == 1
