"""What one App withdrawal request costs the database: a fixed list of statements (a regression
guard for docs/PERFORMANCE.md's "where the time goes"; the request's guarantees are pinned in
tests/withdrawals/test_withdrawal_requests.py)."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from customers.services import customer_token_issue
from tests.withdrawals.conftest import fresh_otp
from withdrawals.models import WithdrawalOrder

pytestmark = pytest.mark.django_db

# Through the real token authentication, inside the test's transaction (so the request's BEGIN and
# COMMIT are savepoints here). Raise it only with a reason in the commit message.
REQUEST_STATEMENTS = 32


def _statements(queries) -> str:
    """One line per statement, without the pghistory context that prefixes each write."""
    return "\n".join(f"{n:3} {re.sub(r'^SELECT set_config.*?; ', '', q['sql'])[:150]}"
                     for n, q in enumerate(queries.captured_queries, 1))


def test_one_withdrawal_request_takes_a_fixed_number_of_statements(wallet):
    token = customer_token_issue(user=wallet.customer.user)
    wallet.client = APIClient()
    wallet.client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    ContentType.objects.get_for_model(WithdrawalOrder)  # cached per process, as in a warm worker
    otp = fresh_otp(wallet.customer)
    with CaptureQueriesContext(connection) as queries:
        response = wallet.request(key="count-1", otp=otp)
    assert response.status_code == 201, response.content
    assert len(queries) == REQUEST_STATEMENTS, f"{len(queries)} statements:\n{_statements(queries)}"


def test_the_answer_to_a_request_is_the_order_as_read_back(wallet):
    created = wallet.request(key="same-1")
    assert created.status_code == 201, created.content
    detail = wallet.client.get(f"/api/v1/withdrawals/{created.json()['id']}/")
    assert created.json() == detail.json()
    replay = wallet.request(key="same-1")
    assert replay.status_code == 200 and replay.json() == detail.json()
