"""The App API's published contract: the OpenAPI schema validates and documents every error
code of SPEC.md; the request endpoint is throttled with the SPEC error shape."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from withdrawals.api.orders import WithdrawalRequestThrottle

SPEC = Path(__file__).resolve().parents[3] / "shared" / "SPEC.md"


def spec_error_codes() -> set[str]:
    """The codes listed in SPEC.md's "Errors" paragraph; our own table when the spec is absent."""
    from core.errors import ERROR_CODES

    if not SPEC.exists():
        return set(ERROR_CODES)
    text = SPEC.read_text()
    section = text[text.index("Codes: "):text.index("A customer never sees")]
    return set(re.findall(r"`([a-z_]+)`", section))


def test_schema_validates_and_documents_every_error_code(db):
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    missing = sorted(code for code in spec_error_codes() if code not in schema)
    assert missing == [], f"error codes not documented in the OpenAPI schema: {missing}"
    for path in ("/api/v1/withdrawals/", "/api/v1/withdrawals/{order_id}/cancel/", "/api/v1/balances/",
                 "/api/v1/coins/", "/api/v1/addresses/", "/api/v1/auth/token/", "/api/v1/auth/logout/"):
        assert path in schema


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_request_endpoint_is_throttled(wallet, otp_bypass, monkeypatch):
    monkeypatch.setattr(WithdrawalRequestThrottle, "THROTTLE_RATES", {"withdrawal_request": "3/min"})
    statuses = [wallet.request(key=f"t{i}", amount="0.01").status_code for i in range(3)]
    assert statuses == [201, 201, 201]
    response = wallet.request(key="t4", amount="0.01")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and int(response["Retry-After"]) > 0
    assert wallet.client.get("/api/v1/withdrawals/").status_code == 200  # reads are not throttled


@pytest.mark.parametrize("method, path", [("put", "/api/v1/withdrawals/"), ("delete", "/api/v1/balances/")])
def test_wrong_method_has_the_error_shape(wallet, method, path):
    response = getattr(wallet.client, method)(path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def _schema_json() -> dict:
    import json

    out = StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=out)
    return json.loads(out.getvalue())


def test_schema_lists_the_currencies_and_networks_the_server_takes(wallet):
    """A request's currency and network are enums of the configured codes (the server refuses any
    other: ``unknown_coin``, ``unknown_currency``), read when the schema is generated."""
    from chains.models import Currency
    from tests.fixtures.factories import CurrencyFactory

    CurrencyFactory(code="NOCOIN")  # configured, but no coin: a withdrawal of it is refused
    components = _schema_json()["components"]["schemas"]
    withdrawal = components["WithdrawalInputRequest"]["properties"]
    assert withdrawal["currency"]["enum"] == ["ETH"]
    assert withdrawal["network"]["enum"] == ["ETH"]
    every = sorted(Currency.objects.values_list("code", flat=True))
    assert {"ETH", "NOCOIN"} <= set(every)
    assert components["OfferInputRequest"]["properties"]["currency"]["enum"] == every
    assert "x-currency-codes" not in str(components)
    # What the enum promises, the server holds to: a code outside it is refused.
    response = wallet.request(key="no-coin", currency="NOCOIN")
    assert response.status_code == 400 and response.json()["code"] == "unknown_coin"


def test_every_idempotency_key_header_documents_the_one_rule_the_server_holds(db):
    """Withdrawals, sells and fiat withdrawals take the same Idempotency-Key (core/idempotency.py);
    schemathesis found the fiat ones documented as any string while the server refused some."""
    from core.idempotency import IDEMPOTENCY_KEY_SCHEMA

    headers = {(path, method): parameter["schema"]
               for path, operations in _schema_json()["paths"].items() for method, operation in operations.items()
               if isinstance(operation, dict)
               for parameter in operation.get("parameters", []) if parameter["name"] == "Idempotency-Key"}
    assert {path for path, _ in headers} == {"/api/v1/withdrawals/", "/api/v1/sells/", "/api/v1/fiat-withdrawals/"}
    assert all(schema == IDEMPOTENCY_KEY_SCHEMA for schema in headers.values())
