"""GET /health/ reports the database, Redis, the worker and each chain node, quickly; the detail
only to a staff session or the health token, up/down to anyone else."""

import time

import pytest

from chains.models import Network
from tests.fixtures.factories import NetworkFactory, eth_network
from withdrawals_site import health

TOKEN = "health-token-for-the-tests-0123456789"


@pytest.fixture
def detail_client(client, settings):
    """A client that sends the health token: it sees every check."""
    settings.HEALTH_TOKEN = TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


@pytest.mark.worker
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_everything_up(detail_client, celery_worker_proc, anvil):
    eth = eth_network()
    Network.objects.filter(pk=eth.pk).update(rpc_url=anvil.url)
    response = detail_client.get("/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "up"
    assert body["redis"] == {"status": "up", "detail": "PONG"}
    assert body["worker"]["status"] == "up"
    assert celery_worker_proc.nodename in body["worker"]["detail"]
    assert body["chains"]["ETH"]["status"] == "up"
    assert body["chains"]["ETH"]["detail"].startswith("block ")
    assert body["elapsed_ms"] < 2000


@pytest.mark.django_db
def test_a_bad_chain_url_is_reported_down_but_the_console_serves(detail_client, monkeypatch):
    monkeypatch.setattr(health, "check_worker", lambda: {"status": "up", "detail": "stub"})
    NetworkFactory(code="ETH", rpc_url="http://127.0.0.1:1")
    NetworkFactory(code="ETHX", name="Misconfigured", rpc_url="ftp://example.test", chain_id=1)
    started = time.monotonic()
    response = detail_client.get("/health/")
    assert time.monotonic() - started < 2.5
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["chains"]["ETH"]["status"] == "down"
    assert "refused" in body["chains"]["ETH"]["detail"].lower()
    assert body["chains"]["ETHX"] == {"status": "down", "detail": "the RPC URL is not an http(s) URL"}


@pytest.mark.django_db
def test_a_hanging_node_does_not_hold_the_answer(detail_client, monkeypatch):
    monkeypatch.setattr(health, "check_worker", lambda: {"status": "up", "detail": "stub"})
    monkeypatch.setattr(health, "check_node", lambda network: time.sleep(5))
    eth_network()
    started = time.monotonic()
    body = detail_client.get("/health/").json()
    assert time.monotonic() - started < 2.5
    assert body["chains"]["ETH"] == {"status": "down", "detail": "the ETH node did not answer in time"}


@pytest.mark.django_db
def test_no_worker_is_reported(detail_client, monkeypatch):
    from withdrawals_site.celery import app

    monkeypatch.setattr(app.control, "ping", lambda **kwargs: [])
    body = detail_client.get("/health/").json()
    assert body["worker"]["status"] == "down"
    assert body["status"] == "degraded"


@pytest.mark.django_db
def test_database_or_redis_down_is_503(detail_client, monkeypatch):
    monkeypatch.setattr(health, "check_worker", lambda: {"status": "up", "detail": "stub"})
    monkeypatch.setattr(health, "check_redis", lambda: {"status": "down", "detail": "ConnectionError: refused"})
    response = detail_client.get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["worker"]["status"] == "down"  # not asked without Redis


def test_the_redis_check_says_why_it_failed(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    result = health.check_redis()
    assert result["status"] == "down" and "ConnectionError" in result["detail"]


@pytest.mark.django_db
def test_anyone_else_gets_up_or_down_and_nothing_more(client, settings, monkeypatch):
    settings.HEALTH_TOKEN = TOKEN
    monkeypatch.setattr(health, "check_worker", lambda: pytest.fail("not asked for an anonymous probe"))
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_X_HEALTH_TOKEN": TOKEN[:-1]},
                    {"HTTP_AUTHORIZATION": f"Token {TOKEN}"}):
        response = client.get("/health/", **headers)
        assert response.status_code == 200
        assert response.json() == {"status": "up"}, headers


@pytest.mark.django_db
def test_anyone_else_sees_down_as_503(client, monkeypatch):
    monkeypatch.setattr(health, "check_redis", lambda: {"status": "down", "detail": "ConnectionError: refused"})
    response = client.get("/health/")
    assert response.status_code == 503 and response.json() == {"status": "down"}


@pytest.mark.django_db
def test_without_a_configured_token_no_token_opens_the_detail(client, settings):
    settings.HEALTH_TOKEN = ""
    assert client.get("/health/", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "up"}
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN="").json() == {"status": "up"}


@pytest.mark.django_db
def test_the_x_health_token_header_and_a_staff_session_see_the_detail(client, settings, monkeypatch,
                                                                      django_user_model):
    monkeypatch.setattr(health, "check_worker", lambda: {"status": "up", "detail": "stub"})
    settings.HEALTH_TOKEN = TOKEN
    assert client.get("/health/", HTTP_X_HEALTH_TOKEN=TOKEN).json()["worker"]["detail"] == "stub"
    customer = django_user_model.objects.create_user("not-staff", password="x" * 12)
    client.force_login(customer)
    assert client.get("/health/").json() == {"status": "up"}
    staff = django_user_model.objects.create_user("staff-health", password="x" * 12, is_staff=True)
    client.force_login(staff)
    assert client.get("/health/").json()["worker"]["detail"] == "stub"
