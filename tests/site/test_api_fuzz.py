"""Property-based fuzzing of the App API (``/api/v1/``) from its own OpenAPI schema (schemathesis).

The schema is the one the app serves at ``/api/schema/``, loaded in-process through the WSGI
application; every request goes through the real Django stack (middleware, DRF, the exception
handler) against the test database, as a seeded customer with funds, TOTP and a verified address.

What must hold for every generated request, valid or malformed (schemathesis' positive and
negative modes, its coverage phase of boundary/missing/wrong-type values, and random fuzzing):
- no 5xx, ever;
- every 4xx is the SPEC.md error JSON: exactly ``{"code", "detail", "field"}``, ``code`` from
  ``core.errors.ERROR_CODES``;
- a refused (4xx) request changes nothing in the database;
- status code, content type, headers and body conform to the schema.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
import schemathesis
from django.apps import apps
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from core.errors import ERROR_CODES
from customers.models import Customer
from ledger.services import ledger_deposit
from tests.fixtures.factories import AddressFactory, CoinFactory
from tests.withdrawals.conftest import enrolled_customer, fresh_otp
from withdrawals.services import orders
from withdrawals.services.orders import withdrawal_request

# The project's WSGI application, as withdrawals_site.wsgi builds it. Not imported from there:
# importing wsgi.py is gunicorn's start path, which refuses the test suite's development secrets.
application = get_wsgi_application()

pytestmark = pytest.mark.django_db

SEED = 20240611
MAX_EXAMPLES = 8  # per operation and mode, fuzzing phase; the coverage phase adds its own cases
FUZZ_OTP = "424242"  # the one code the fuzzed customer's TOTP check lets through (see app_customer)
# The tables whose rows a refused request must leave as they were.
STATE_APPS = ("auth", "authtoken", "customers", "chains", "ledger", "withdrawals", "approvals")
# The one write a refusal makes on purpose: a wrong OTP code is counted (and may lock), in a
# transaction of its own (docs/DECISIONS.md, record 21). Every other column of the row must hold.
REFUSAL_COUNTERS = {"withdrawals_totpdevice": {"failed_attempts", "locked_until"}}


@contextmanager
def _in_test_transaction():
    """What Django's test client does around a request: the WSGI handler's request signals would
    otherwise close the connection that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _load_schema():
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # Response-driven generation (ids captured from responses, 4xx feedback) would make the
        # cases depend on database ids and clock times, so two runs would differ: _aim does the
        # steering instead, deterministically.
        "phases": {"stateful": {"enabled": False},
                   "fuzzing": {"extra-data-sources": {"responses": False}, "error-feedback": {"enabled": False}},
                   "coverage": {"extra-data-sources": {"responses": False}},
                   "examples": {"extra-data-sources": {"responses": False}}},
        # The money endpoint gets more: its aimed requests walk the amount, limit and idempotency rules.
        "operations": [{"include-operation-id": "withdrawals_create", "generation": {"max-examples": 40}}],
        "checks": {"enabled": True,
                   # Business rules the schema cannot express (an unknown coin, a wrong OTP) refuse
                   # schema-valid data with a 4xx on purpose.
                   "positive_data_acceptance": {"enabled": False}},
    })
    with _in_test_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/schema/", application, config=config)
    return schema.include(path_regex=r"^/api/v1/")


schema = _load_schema()


def error_is_spec_json(ctx, response, case):
    """Every 4xx is ``{"code", "detail", "field"}`` with a public code (SPEC.md, "Errors")."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"a {response.status_code} that is not JSON "
                             f"({response.headers.get('content-type')}): {response.text[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"code", "detail", "field"}, f"not the error shape: {body!r}"
    assert body["code"] in ERROR_CODES, f"unknown error code {body['code']!r}"
    assert isinstance(body["detail"], str) and body["detail"], f"empty detail: {body!r}"
    assert body["field"] is None or isinstance(body["field"], str), f"field is not a name: {body!r}"
    return True


def _state_fingerprint() -> dict[str, str]:
    """A digest of every row of the domain's tables, per table (PostgreSQL: each row as text)."""
    models = {model._meta.db_table: model for label in STATE_APPS
              for model in apps.get_app_config(label).get_models() if model._meta.managed}

    def row(table: str) -> str:
        if table not in REFUSAL_COUNTERS:
            return "t::text"
        columns = [f.column for f in models[table]._meta.concrete_fields if f.column not in REFUSAL_COUNTERS[table]]
        return "(" + ", ".join(f't."{column}"' for column in columns) + ")::text"

    query = " UNION ALL ".join(
        f"SELECT '{table}', md5(coalesce(string_agg({row(table)}, '|' ORDER BY {row(table)}), '')) "
        f"FROM \"{table}\" t"
        for table in sorted(models))
    with connection.cursor() as cursor:
        cursor.execute(query)
        return dict(cursor.fetchall())


@dataclass
class AppCustomer:
    customer: Customer
    token: str
    address_id: int
    order_id: int


@pytest.fixture
def app_customer(db, monkeypatch) -> AppCustomer:
    """A customer ready to withdraw ETH (as tests/withdrawals' ``wallet``: KYC approved, TOTP
    enrolled, a verified ETH address, 1.0 ETH under ETHUSD and 0.8 under ETHHKD), logged in with a
    token, with one pending withdrawal to look at and cancel. Another customer's address exists
    too: it must stay ``not_found``."""
    coin = CoinFactory()
    coin.network_fee_estimate = Decimal("0.00042")
    coin.save(update_fields=["network_fee_estimate"])
    customer = enrolled_customer()
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="dep-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="dep-hkd")
    address = AddressFactory(customer=customer, network=coin.network)
    order, _ = withdrawal_request(customer=customer, idempotency_key="seed-order", currency="ETH", network="ETH",
                                  address_id=address.pk, amount="0.1", otp=fresh_otp(customer))
    other = enrolled_customer()
    AddressFactory(customer=other, network=coin.network)
    token = Token.objects.create(user=customer.user)
    real_totp_verify = orders.totp_verify

    def totp_verify(*, customer, code):
        # A fixed code instead of a live one keeps the run deterministic (and not limited to the
        # three codes of a TOTP window); every other code still goes through the real check.
        if code != FUZZ_OTP:
            real_totp_verify(customer=customer, code=code)

    monkeypatch.setattr(orders, "totp_verify", totp_verify)
    # Hundreds of requests a minute: past the rate limits the answer would only ever be 429
    # (tests/site/test_api_errors.py covers throttling).
    for scope in ("anon", "withdrawal_request", "otp_confirm"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "100000/min")
    return AppCustomer(customer=customer, token=token.key, address_id=address.pk, order_id=order.pk)


# Amounts at the edges of the seeded coin's rules (8 decimals, 0.001..100, 200 a day, fee 0.0005)
# and of the customer's 1.8 ETH.
AIMED_AMOUNTS = ("0.01", "0.001", "0.0009", "0.000000001", "1.7", "2", "100", "100.1", "0.5", "1e-2", "01")


def _aim(case, customer: AppCustomer) -> None:
    """Aim half of the generated requests at the customer's real objects, so the paths past
    "not found" / "unknown coin" are fuzzed too: a path id becomes a real one; a schema-valid
    withdrawal or address body gets the real coin, address and OTP and an amount at one of the
    rules' edges (the other fields stay as generated). Which half, and which amount, is decided by
    a digest of the generated request, so runs stay deterministic. A body generated to violate the
    schema is left alone: it must be refused as it is."""
    body = None if isinstance(case.body, NotSet) else case.body  # NotSet's repr holds a memory address
    digest = hashlib.sha256(repr((case.path_parameters, case.query, case.headers, body)).encode()).digest()
    if digest[0] % 2:
        return
    # New dicts, never edits in place: the coverage phase's cases share their dicts.
    for name, real in (("address_id", customer.address_id), ("order_id", customer.order_id)):
        if isinstance((case.path_parameters or {}).get(name), int):
            case.path_parameters = {**case.path_parameters, name: real}
    if not isinstance(case.body, dict) or case.meta is None or case.meta.is_negative_at(ParameterLocation.BODY):
        return
    if case.operation.label == "POST /api/v1/withdrawals/":
        body = {**case.body, "currency": "ETH", "network": "ETH", "address_id": customer.address_id, "otp": FUZZ_OTP}
        if digest[1] % 4:
            body["amount"] = AIMED_AMOUNTS[digest[2] % len(AIMED_AMOUNTS)]
        case.body = body
        if not case.meta.is_negative_at(ParameterLocation.HEADER):
            # A few keys only: the same key comes back with the same body (a replay) or another (a conflict).
            case.headers = {**(case.headers or {}), "Idempotency-Key": f"fuzz-{digest[3] % 4}"}
    elif case.operation.label == "POST /api/v1/addresses/":
        body = {**case.body, "network": "ETH"}
        if digest[1] % 2:
            body["address"] = "0x" + digest[2:22].hex()
        case.body = body


@schema.parametrize()
# One customer per operation, shared by its examples: state builds up on purpose (a revoked
# address, a cancelled order, withdrawals against the daily limit), as it does for a real App.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_app_endpoint_answers_bad_input_with_the_error_json(case, app_customer):
    _aim(case, app_customer)
    headers = {"Authorization": f"Token {app_customer.token}"}
    before = _state_fingerprint()
    with _in_test_transaction():
        response = case.call(headers=headers)
        case.validate_response(response, headers=headers, additional_checks=[error_is_spec_json])
    if 400 <= response.status_code < 500:
        after = _state_fingerprint()
        changed = sorted(table for table in before if before[table] != after[table])
        assert not changed, f"a refused request ({response.status_code}) changed {changed}"
