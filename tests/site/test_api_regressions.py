"""Regressions found by fuzzing the App API from its schema (tests/site/test_api_fuzz.py), for the
site-wide parts: the catch-all 404 under /api/ and the documentation of the auth errors."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_a_post_to_an_unknown_api_url_without_a_csrf_cookie_is_the_json_404():
    """Was Django's HTML 403 "CSRF cookie not set" page: the catch-all view was not csrf-exempt,
    so e.g. POST /api/v1/addresses/abc/verify/ (not an int id) never reached it."""
    client = APIClient(enforce_csrf_checks=True)
    for path in ("/api/v1/addresses/abc/verify/", "/api/v1/withdrawals/null/cancel/", "/api/v1/nothing/"):
        response = client.post(path, {"method": "signature"}, format="json")
        assert response.status_code == 404, (path, response.content[:200])
        assert response.json() == {"code": "not_found", "detail": response.json()["detail"], "field": None}


def test_every_app_operation_documents_its_auth_errors_with_the_error_schema():
    """coins, me, balances, the withdrawal detail and cancel, the OTP endpoints could answer 401/403
    without the schema saying so; the login answered 400/401/403/429 with only 200 documented."""
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    error_ref = {"$ref": "#/components/schemas/Error"}
    missing = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            statuses = ({"400", "401", "403", "429"} if path == "/api/v1/auth/token/" else {"401", "403"})
            for status in sorted(statuses):
                response = operation["responses"].get(status)
                if response is None or response["content"]["application/json"]["schema"] != error_ref:
                    missing.append(f"{method.upper()} {path} {status}")
    assert missing == []
