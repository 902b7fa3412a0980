"""/metrics: refused without the token or a second-factor staff session, served with either;
the numbers read from the database, the task and webhook counters, and the worker's samples
reaching the shared multiprocess directory."""

import pytest
from django.urls import reverse

from tests.approvals.conftest import eth_prices, fast_password_hashing, wallet  # noqa: F401 - fixtures
from tests.fixtures.factories import AddressFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-the-test-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, **headers):
    return client.get(reverse("metrics"), **headers)


def test_metrics_are_refused_without_a_token_or_a_staff_session(client, metrics_token):
    assert scrape(client).status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    client.force_login(StaffFactory())  # a password only: no second factor yet
    assert scrape(client).status_code == 401
    assert "WWW-Authenticate" in scrape(client)


def test_no_configured_token_means_no_token_access(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client, HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_the_token_reads_the_metrics(client, metrics_token):
    response = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in ('console_withdrawals{status="pending_approval"} 0.0', "console_withdrawal_oldest_age_seconds",
                 "console_confirmation_lag_seconds", "console_fee_reserve_cover_ratio",
                 'console_webhook_deliveries{status="failed"}', "console_outbox_oldest_age_seconds",
                 "console_celery_task_duration_seconds", "console_webhook_failures"):
        assert name in text, name


def test_a_staff_session_with_its_second_factor_reads_the_metrics(client):
    login_verified_staff(client, StaffFactory())
    assert scrape(client).status_code == 200


def test_open_orders_are_counted_with_the_age_of_the_oldest(client, metrics_token, request):
    request.getfixturevalue("wallet").request()
    text = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert 'console_withdrawals{status="pending_approval"} 1.0' in text
    assert 'console_withdrawal_oldest_age_seconds{status="pending_approval"}' in text


def test_tasks_and_webhook_failures_are_counted(client, metrics_token, settings):
    from events.delivery import delivery_attempt
    from events.services import event_record, events_dispatch
    from tests.events.conftest import Receiver, free_port, subscribe
    from withdrawals_site.tasks import ping

    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    ping.apply()  # run here: the Celery signals fire as in the worker
    subscribe(Receiver(port=free_port()).url, name="nobody-listens")
    event = event_record(kind="address.revoked", subject=AddressFactory(), payload={})
    [delivery_id] = events_dispatch(event_ids=[event.pk])
    assert delivery_attempt(delivery_id=delivery_id) == "retry"
    text = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert 'console_celery_tasks_total{state="SUCCESS",task="console.ping"}' in text
    assert 'console_webhook_failures_total{subscription="nobody-listens"}' in text
    assert 'console_webhook_deliveries{status="pending"} 1.0' in text


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_its_samples_where_the_web_reads_them(celery_worker_proc, tmp_path):
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    from withdrawals_site.tasks import ping

    with celery_worker_proc.environment({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}):
        assert ping.delay().get(timeout=30) == "pong"
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    text = generate_latest(registry).decode()
    assert 'console_celery_tasks_total{state="SUCCESS",task="console.ping"}' in text
    assert 'console_celery_task_duration_seconds_count{task="console.ping"}' in text
