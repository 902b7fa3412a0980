"""Every App API error is the SPEC.md JSON {"code", "detail", "field"} with its status."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from tests.fixtures.factories import StaffFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "field"}, body
    assert body["code"] == code
    assert body["field"] == field
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_no_credentials_is_401_unauthenticated(api_client):
    response = api_client.get("/api/v1/coins/")
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401_unauthenticated(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(api_client.get("/api/v1/me/"), 401, "unauthenticated")


def test_staff_without_a_customer_profile_get_403_permission_denied(api_client):
    staff = StaffFactory()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert_error(api_client.get("/api/v1/coins/"), 403, "permission_denied")
    assert_error(api_client.get("/api/v1/me/"), 403, "permission_denied")


def test_staff_logged_into_the_admin_get_403_on_the_app_api(client):
    client.force_login(StaffFactory())
    assert_error(client.get("/api/v1/me/"), 403, "permission_denied")


def test_an_unknown_api_url_is_404_not_found(api_client):
    assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(api_client.post("/api/nothing-here", {}), 404, "not_found")


def test_a_wrong_method_is_405_method_not_allowed(api_client, customer):
    api_client.force_authenticate(customer.user)
    assert_error(api_client.delete("/api/v1/coins/"), 405, "method_not_allowed")
    assert_error(api_client.get("/api/v1/auth/token/"), 405, "method_not_allowed")


def test_a_missing_field_is_400_validation_error_naming_it(api_client):
    assert_error(api_client.post("/api/v1/auth/token/", {"username": "alice"}, format="json"),
                 400, "validation_error", field="password")


def test_malformed_json_is_400_validation_error(api_client):
    response = api_client.post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    assert_error(response, 400, "validation_error")


def test_an_unsupported_body_type_is_a_validation_error(api_client):
    response = api_client.post("/api/v1/auth/token/", data="username=a", content_type="text/plain")
    assert_error(response, 415, "validation_error")


def test_too_many_login_attempts_are_429_throttled(api_client, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "3/min")
    for _ in range(3):
        response = api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json",
                                   REMOTE_ADDR="10.9.8.7")
        assert response.status_code == 401
    response = api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json",
                               REMOTE_ADDR="10.9.8.7")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    # Another client is not affected.
    other = api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json",
                            REMOTE_ADDR="10.9.8.8")
    assert other.status_code == 401


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/coins/", "/api/v1/auth/token/", "/api/v1/me/"} <= set(paths)
    coin = schema.json()["components"]["schemas"]["Coin"]["properties"]
    assert coin["min_amount"]["type"] == "string"
    assert client.get("/api/docs/").status_code == 200
