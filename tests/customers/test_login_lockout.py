"""Logins that cannot be brute-forced: django-axes locks a username and an IP after
AXES_FAILURE_LIMIT failures, on the admin login and on the App login, whatever the client writes
in X-Forwarded-For (no trusted proxy: REMOTE_ADDR is the client)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from core.client_ip import client_ip
from tests.fixtures.factories import CustomerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

CLIENT = "203.0.113.7"


@pytest.fixture(autouse=True)
def _generous_throttle(monkeypatch):
    # The per-IP request rate (30/min) would answer `throttled` before these tests are done;
    # it has its own tests (tests/site/test_throttles.py). Here only the lockout speaks.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "100000/min")


def forwarded(n: int) -> str:
    return f"198.51.100.{n % 250 + 1}"


def time_travel_past_cool_off(settings) -> None:
    """The lockout ends AXES_COOLOFF_TIME after the last failure: move those failures back."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def admin_login(client, username: str, password: str, *, xff: str | None = None, ip: str = CLIENT):
    extra = {"REMOTE_ADDR": ip}
    if xff:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **extra)


def app_login(api_client, username: str, password: str, *, xff: str | None = None, ip: str = CLIENT):
    extra = {"REMOTE_ADDR": ip}
    if xff:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return api_client.post("/api/v1/auth/token/", {"username": username, "password": password}, format="json",
                           **extra)


def test_fifty_wrong_admin_passwords_with_rotating_forwarded_for_lock_the_login(client, settings):
    staff = StaffFactory(is_superuser=True)
    statuses = [admin_login(client, staff.username, f"wrong-{n}", xff=forwarded(n)).status_code for n in range(50)]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[:limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert statuses[limit - 1:] == [429] * (50 - limit + 1)  # locked from the limit on
    refused = admin_login(client, staff.username, "pass-1234", xff=forwarded(99))
    assert refused.status_code == 429 and "locked until" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session

    time_travel_past_cool_off(settings)
    accepted = admin_login(client, staff.username, "pass-1234")
    assert accepted.status_code == 302 and client.session["_auth_user_id"] == str(staff.pk)


def test_fifty_wrong_app_passwords_with_rotating_forwarded_for_lock_the_login(api_client, settings):
    customer = CustomerFactory()
    username = customer.user.username
    responses = [app_login(api_client, username, f"wrong-{n}", xff=forwarded(n)) for n in range(50)]
    limit = settings.AXES_FAILURE_LIMIT
    assert [r.status_code for r in responses[:limit - 1]] == [401] * (limit - 1)
    for response in responses[limit - 1:]:
        assert response.status_code == 429 and response["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "login_locked" and "locked until" in body["detail"] and body["field"] is None
        assert int(response["Retry-After"]) > 0
    assert AccessAttempt.objects.filter(username=username).values("ip_address").distinct().count() == 1

    refused = app_login(api_client, username, "pass-1234")
    assert refused.status_code == 429 and refused.json()["code"] == "login_locked"
    assert not Token.objects.filter(user=customer.user).exists()

    time_travel_past_cool_off(settings)
    accepted = app_login(api_client, username, "pass-1234")
    assert accepted.status_code == 200 and accepted.json()["token"]


def test_a_short_cool_off_really_ends(api_client, settings):
    """The same with the clock itself: a one-second cool-off, waited out."""
    import time

    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    customer = CustomerFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        app_login(api_client, customer.user.username, f"wrong-{n}")
    assert app_login(api_client, customer.user.username, "pass-1234").json()["code"] == "login_locked"
    time.sleep(1.2)
    assert app_login(api_client, customer.user.username, "pass-1234").status_code == 200


def test_a_locked_username_is_refused_from_every_address(api_client, settings):
    customer = CustomerFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        app_login(api_client, customer.user.username, f"wrong-{n}", ip=f"192.0.2.{n + 1}")
    elsewhere = app_login(api_client, customer.user.username, "pass-1234", ip="192.0.2.200")
    assert elsewhere.status_code == 429 and elsewhere.json()["code"] == "login_locked"


def test_a_locked_address_is_refused_for_every_username(api_client, settings):
    victims = [UserFactory() for _ in range(settings.AXES_FAILURE_LIMIT)]
    for user in victims:  # one wrong password each: a spray, not a guess at one account
        assert app_login(api_client, user.username, "wrong").status_code in (401, 429)
    customer = CustomerFactory()
    from_there = app_login(api_client, customer.user.username, "pass-1234")
    assert from_there.status_code == 429 and from_there.json()["code"] == "login_locked"
    from_elsewhere = app_login(api_client, customer.user.username, "pass-1234", ip="192.0.2.99")
    assert from_elsewhere.status_code == 200


def test_the_app_and_the_admin_share_the_count_of_a_username(client, api_client, settings):
    customer = CustomerFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, customer.user.username, f"wrong-{n}", ip=f"192.0.2.{n + 1}")
    assert app_login(api_client, customer.user.username, "pass-1234", ip="192.0.2.50").status_code == 429


def test_forwarded_for_counts_only_behind_the_configured_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.NUM_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"  # a client's own header is ignored
    settings.NUM_PROXIES = 1
    assert client_ip(request) == "203.0.113.9"  # what our one proxy saw, not what the client wrote
    settings.NUM_PROXIES = 2
    assert client_ip(request) == "6.6.6.6"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


def test_behind_one_proxy_the_lockout_follows_the_forwarded_client(api_client, settings):
    settings.NUM_PROXIES = 1
    customer = CustomerFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        app_login(api_client, f"nobody-{n}", "wrong", ip="10.0.0.1", xff="203.0.113.50")
    # Another client behind the same proxy is not locked out.
    assert app_login(api_client, customer.user.username, "pass-1234", ip="10.0.0.1",
                     xff="203.0.113.51").status_code == 200
    assert app_login(api_client, customer.user.username, "pass-1234", ip="10.0.0.1",
                     xff="203.0.113.50").json()["code"] == "login_locked"
