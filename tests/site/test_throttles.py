"""Rate limits hold under parallel requests: the check and the count are one atomic step in
Redis (core.throttles). 40 requests at once against a limit of 30: exactly 30 get through, each
burst, each request a thread with its own database connection."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.fixtures.factories import CustomerFactory, TenantFactory
from withdrawals.api.orders import WithdrawalRequestThrottle

BURST = 40
LIMIT = 30


def run_at_once(work, count: int) -> list:
    """``work(i)`` in ``count`` threads released together; each closes its own DB connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertion below, not lost in the thread
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_forty_logins_at_once_against_thirty_a_minute_let_exactly_thirty_through(monkeypatch, redis_client):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", f"{LIMIT}/min")
    tenant = TenantFactory()
    customers = [CustomerFactory(tenant=tenant) for _ in range(BURST)]  # distinct users: no lockout, no token race
    for burst in range(3):
        client_ip = f"10.77.{burst}.1"  # a fresh throttle key per burst

        def login(i: int, ip=client_ip):
            response = APIClient().post("/api/v1/auth/token/", {"username": customers[i].user.username,
                                                                 "password": "pass-1234"},
                                        format="json", REMOTE_ADDR=ip)
            return response.status_code, response.json().get("code")

        results = run_at_once(login, BURST)
        assert all(isinstance(r, tuple) for r in results), results
        through = [r for r in results if r[0] == 200]
        throttled = [r for r in results if r == (429, "throttled")]
        assert len(through) == LIMIT, f"burst {burst}: {len(through)} of {BURST} got through"
        assert len(throttled) == BURST - LIMIT


@pytest.mark.django_db(transaction=True)
def test_forty_withdrawal_requests_at_once_are_held_to_the_scope_rate(monkeypatch, redis_client):
    """The request endpoint's throttle itself, 40 threads per burst: the first 30 admitted."""
    monkeypatch.setattr(WithdrawalRequestThrottle, "THROTTLE_RATES", {"withdrawal_request": f"{LIMIT}/min"})
    customers = [CustomerFactory(tenant=TenantFactory()) for _ in range(3)]

    class View:
        throttle_scope = "withdrawal_request"

    class Request:
        method = "POST"
        META = {"REMOTE_ADDR": "10.0.0.1"}

        def __init__(self, user):
            self.user = user

    for burst, customer in enumerate(customers):  # a fresh key (the customer) per burst
        results = run_at_once(lambda i, user=customer.user: WithdrawalRequestThrottle().allow_request(
            Request(user), View()), BURST)
        assert results.count(True) == LIMIT, f"burst {burst}: {results.count(True)} admitted"
        assert results.count(False) == BURST - LIMIT


@pytest.mark.django_db
def test_a_refused_request_says_when_to_retry(monkeypatch, redis_client):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "2/min")
    client = APIClient()
    for _ in range(2):
        assert client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json",
                           REMOTE_ADDR="10.88.0.1").status_code == 401
    refused = client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json",
                          REMOTE_ADDR="10.88.0.1")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 61
