"""Regressions found by fuzzing the App API from its schema (tests/site/test_api_fuzz.py): each was
a 500, a wrong error shape, input the schema forbids being accepted, or the schema not saying what
the API sends."""

import pytest
from rest_framework.test import APIClient

from approvals.models import WorkOrder
from ledger.selectors import customer_balances
from tests.withdrawals.conftest import fresh_otp
from withdrawals.models import CustomerAddress, IdempotencyRecord, WithdrawalOrder

pytestmark = pytest.mark.django_db


def snapshot(customer):
    return (WithdrawalOrder.objects.count(), IdempotencyRecord.objects.count(), WorkOrder.objects.count(),
            CustomerAddress.objects.count(), customer_balances(customer=customer))


def assert_error(response, status: int, code: str, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body == {"code": code, "detail": body["detail"], "field": field}
    assert isinstance(body["detail"], str) and body["detail"]


def schema_components():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


# --- 500s -------------------------------------------------------------------------------------------

def test_otp_confirm_with_a_body_that_is_not_an_object_is_a_validation_error(wallet):
    """Was a 500: the view read ``request.data.get("code")`` from a JSON list."""
    response = wallet.client.post("/api/v1/otp/confirm/", data="[null, null]", content_type="application/json")
    assert_error(response, 400, "validation_error")
    assert_error(wallet.client.post("/api/v1/otp/confirm/", {}, format="json"), 400, "validation_error", "code")


def test_a_nul_character_in_a_list_filter_is_a_validation_error(wallet):
    """Was a 500: PostgreSQL refuses NUL in text ("cannot contain NUL (0x00) bytes")."""
    assert_error(wallet.client.get("/api/v1/withdrawals/?status=%00"), 400, "validation_error", "status")
    assert_error(wallet.client.get("/api/v1/withdrawals/?currency=E%00TH"), 400, "validation_error", "currency")
    assert wallet.client.get("/api/v1/withdrawals/?status=pending_approval&currency=ETH").status_code == 200


def test_a_nul_character_in_travel_rule_data_is_refused_and_changes_nothing(wallet):
    """Was a 500 from inside the request's transaction: jsonb refuses "\\u0000"."""
    before = snapshot(wallet.customer)
    response = wallet.request(travel_rule={"originator": {"name": "A\x00B"}})
    assert_error(response, 400, "validation_error", "travel_rule")
    assert snapshot(wallet.customer) == before


# --- input the schema forbids, accepted ---------------------------------------------------------------

@pytest.mark.parametrize("travel_rule", [[{"name": "x"}], "text", 0, True])
def test_travel_rule_data_must_be_an_object(wallet, travel_rule):
    before = snapshot(wallet.customer)
    assert_error(wallet.request(travel_rule=travel_rule), 400, "validation_error", "travel_rule")
    assert snapshot(wallet.customer) == before


def test_travel_rule_null_means_none_given(wallet):
    """The schema allowed null; the API refused it ("This field may not be null.")."""
    response = wallet.request(travel_rule=None)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("override, field", [
    ({"address_id": "ADDRESS"}, "address_id"),  # the id as a JSON string
    ({"otp": 123456}, "otp"),                   # the code as a JSON number
    ({"currency": 1}, "currency"),
    ({"address_id": True}, "address_id"),
])
def test_a_json_value_of_the_wrong_type_is_a_validation_error(wallet, override, field):
    """DRF turned numbers into text and digit strings into numbers; the schema says which is which."""
    override = {key: (str(wallet.address.pk) if value == "ADDRESS" else value) for key, value in override.items()}
    before = snapshot(wallet.customer)
    assert_error(wallet.request(**override), 400, "validation_error", field)
    assert snapshot(wallet.customer) == before


def test_a_form_body_is_refused_and_changes_nothing(wallet):
    """The App sends JSON; the API takes nothing else (the schema offers nothing else): a form or
    multipart body is 415, whatever it says."""
    body = {"currency": "ETH", "network": "ETH", "address_id": str(wallet.address.pk), "amount": "0.5",
            "otp": fresh_otp(wallet.customer)}
    before = snapshot(wallet.customer)
    response = wallet.client.post("/api/v1/withdrawals/", body, HTTP_IDEMPOTENCY_KEY="form-1")  # multipart
    assert response.status_code == 415, response.content
    assert response.json()["code"] == "validation_error"
    assert snapshot(wallet.customer) == before


def test_a_number_for_an_address_label_is_a_validation_error(wallet):
    before = snapshot(wallet.customer)
    response = wallet.client.post("/api/v1/addresses/", {"network": "ETH", "address": "0x" + "ab" * 20, "label": 0},
                                  format="json")
    assert_error(response, 400, "validation_error", "label")
    assert snapshot(wallet.customer) == before


@pytest.mark.parametrize("amount", ["0.5\n", "1\n"])
def test_an_amount_with_a_trailing_newline_is_invalid_amount(wallet, amount):
    """The pattern ended in "$", which also matches before a final newline: "0.5\\n" was taken as 0.5."""
    before = snapshot(wallet.customer)
    assert_error(wallet.request(amount=amount), 400, "invalid_amount", "amount")
    assert snapshot(wallet.customer) == before


# --- the schema not saying what the API sends -----------------------------------------------------------

def test_history_is_documented_with_from_as_sent(wallet):
    """The schema documented "from_" (required, never null); the API sends "from", null for the request."""
    order = wallet.request().json()
    assert order["history"][0]["from"] is None and "from_" not in order["history"][0]
    schemas = schema_components()["components"]["schemas"]
    history = schemas["History"]
    assert "from_" not in history["properties"] and history["properties"]["from"]["nullable"] is True
    assert set(order["history"][0]) == set(history["properties"])


def test_completed_at_is_documented_as_nullable(wallet):
    order = wallet.request().json()
    assert order["completed_at"] is None
    output = schema_components()["components"]["schemas"]["WithdrawalOutput"]
    assert output["properties"]["completed_at"]["nullable"] is True


def test_a_page_that_is_not_a_page_is_documented_not_found(wallet):
    assert_error(wallet.client.get("/api/v1/withdrawals/?page=0"), 404, "not_found")
    assert_error(wallet.client.get("/api/v1/withdrawals/?page=2"), 404, "not_found")
    responses = schema_components()["paths"]["/api/v1/withdrawals/"]["get"]["responses"]
    assert {"400", "404"} <= set(responses)


def test_travel_rule_is_documented_as_an_object_or_null(wallet):
    body = schema_components()["components"]["schemas"]["WithdrawalInputRequest"]
    assert body["properties"]["travel_rule"]["type"] == "object"
    assert body["properties"]["travel_rule"]["nullable"] is True

