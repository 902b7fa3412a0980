"""``/metrics`` for Prometheus (prometheus-client), and the counters the worker keeps.

Two kinds of numbers (docs/METRICS.md):

- **Read from the database at each scrape** (``ConsoleCollector``): orders per open state and
  how long the oldest has been in it, the confirmation lag per network, the fee-reserve cover per
  tenant and fee currency, the outbox and webhook backlog. Open states only: the terminal states
  grow without bound and would make every scrape count the whole table.
- **Counted where they happen**: Celery task durations, outcomes and failures (Celery signals,
  in the worker) and webhook attempts and failures (``events.signals.webhook_attempted``, in the
  worker). With PROMETHEUS_MULTIPROC_DIR set (``manage.py runconsole`` sets it for the web and
  the worker children), every process writes its samples there and any gunicorn worker serving
  ``/metrics`` reads them all (prometheus-client's multiprocess mode; gunicorn's ``child_exit``
  hook in ``withdrawals_site/gunicorn_conf.py`` marks a dead worker's files). A worker on another
  host has no shared directory: set WORKER_METRICS_PORT there and scrape the worker itself.

Access: ``Authorization: Bearer <METRICS_TOKEN>`` (constant-time compare; no token configured
means no token access), or a staff session whose second factor is verified. Anyone else: 401.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger("withdrawals_site.metrics")

TASK_DURATION = Histogram("console_celery_task_duration_seconds", "Run time of Celery tasks, by task name.",
                          ["task"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
TASKS = Counter("console_celery_tasks", "Celery tasks finished, by task name and state "
                                        "(SUCCESS, FAILURE, RETRY, ...).", ["task", "state"])
TASK_FAILURES = Counter("console_celery_task_failures", "Celery tasks that raised, by task name.", ["task"])
WEBHOOK_ATTEMPTS = Counter("console_webhook_attempts", "Webhook delivery attempts, by subscription and outcome "
                                                       "(delivered, retry, failed).", ["subscription", "outcome"])
WEBHOOK_FAILURES = Counter("console_webhook_failures", "Webhook attempts that got no 2xx, by subscription.",
                           ["subscription"])


# --- counted where they happen -------------------------------------------------------------------

_started: dict[str, float] = {}


def _task_prerun(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = time.monotonic()


def _task_postrun(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    if started is not None:
        TASK_DURATION.labels(task=name).observe(time.monotonic() - started)
    TASKS.labels(task=name, state=state or "UNKNOWN").inc()


def _task_failure(sender=None, **kwargs) -> None:
    TASK_FAILURES.labels(task=getattr(sender, "name", "unknown")).inc()


def _webhook_attempted(sender, *, subscription: str, outcome: str, status_code, duration: float, **kwargs) -> None:
    WEBHOOK_ATTEMPTS.labels(subscription=subscription, outcome=outcome).inc()
    if outcome != "delivered":
        WEBHOOK_FAILURES.labels(subscription=subscription).inc()


def _worker_process_shutdown(pid=None, **kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _worker_ready(**kwargs) -> None:
    """A worker on a host of its own serves its counters on WORKER_METRICS_PORT (no shared dir)."""
    port = os.environ.get("WORKER_METRICS_PORT", "").strip()
    if port:
        from prometheus_client import start_http_server

        start_http_server(int(port), addr=os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1"),
                          registry=process_registry())


def metrics_connect() -> None:
    """Connect the counters to the signals (WithdrawalsSiteConfig.ready, every process)."""
    from celery import signals as celery_signals

    from events.signals import webhook_attempted

    celery_signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="metrics.prerun")
    celery_signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="metrics.postrun")
    celery_signals.task_failure.connect(_task_failure, weak=False, dispatch_uid="metrics.failure")
    celery_signals.worker_process_shutdown.connect(_worker_process_shutdown, weak=False,
                                                   dispatch_uid="metrics.process_shutdown")
    celery_signals.worker_ready.connect(_worker_ready, weak=False, dispatch_uid="metrics.worker_ready")
    webhook_attempted.connect(_webhook_attempted, dispatch_uid="metrics.webhook_attempted")


def process_registry() -> CollectorRegistry:
    """Every process's samples (multiprocess mode), else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


# --- read from the database at each scrape --------------------------------------------------------

class ConsoleCollector:
    """The state of the console, a handful of queries per scrape (open orders only)."""

    def collect(self):
        from events.models import Event, WebhookDelivery
        from withdrawals.selectors.fee_reserve import fee_reserve_overview
        from withdrawals.selectors.metrics import (
            withdrawal_confirmation_lag,
            withdrawal_open_states,
        )

        now = time.time()
        orders = GaugeMetricFamily("console_withdrawals", "Withdrawal orders per open state.", labels=["status"])
        oldest = GaugeMetricFamily("console_withdrawal_oldest_age_seconds",
                                   "How long the oldest order in each open state has been in it.", labels=["status"])
        for state in withdrawal_open_states():
            orders.add_metric([state.status], state.count)
            oldest.add_metric([state.status], max(now - state.oldest_since.timestamp(), 0) if state.oldest_since else 0)
        yield orders
        yield oldest

        lag = GaugeMetricFamily("console_confirmation_lag_seconds",
                                "Per network: how long the oldest confirming order has waited for its "
                                "confirmations (0: none waiting).", labels=["network"])
        for network, since in withdrawal_confirmation_lag():
            lag.add_metric([network], max(now - since.timestamp(), 0) if since else 0)
        yield lag

        cover = GaugeMetricFamily("console_fee_reserve_cover_ratio",
                                  "Main-account balance / fees of the approved and awaiting-fee orders, per tenant "
                                  "and fee currency (+Inf: nothing queued; below 1: orders will wait for fees).",
                                  labels=["tenant", "currency"])
        needed = GaugeMetricFamily("console_fee_reserve_needed", "Fees the queued orders still need.",
                                   labels=["tenant", "currency"])
        main = GaugeMetricFamily("console_fee_reserve_main_balance", "Main-account balance that pays network fees.",
                                 labels=["tenant", "currency"])
        for line in fee_reserve_overview():
            labels = [line.tenant, line.currency]
            need = line.needed + line.shortfall
            cover.add_metric(labels, float(line.main / need) if need > 0 else float("inf"))
            needed.add_metric(labels, float(need))
            main.add_metric(labels, float(line.main))
        yield cover
        yield needed
        yield main

        pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count()
        failed = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).count()
        deliveries = GaugeMetricFamily("console_webhook_deliveries", "Webhook deliveries not delivered (pending: "
                                       "being retried; failed: retries exhausted, waiting for a redeliver).",
                                       labels=["status"])
        deliveries.add_metric(["pending"], pending)
        deliveries.add_metric(["failed"], failed)
        yield deliveries
        outbox = Event.objects.filter(dispatched_at__isnull=True).order_by("occurred_at")
        first = outbox.values_list("occurred_at", flat=True).first()
        yield GaugeMetricFamily("console_outbox_oldest_age_seconds",
                                "Age of the oldest event not yet fanned out to the webhooks (0: none).",
                                value=max(now - first.timestamp(), 0) if first else 0)


_database_registry = CollectorRegistry(auto_describe=False)
_database_registry.register(ConsoleCollector())


def may_read_metrics(request) -> bool:
    """The metrics token, or a staff session that passed its second factor."""
    expected = getattr(settings, "METRICS_TOKEN", "")
    header = request.headers.get("Authorization", "")
    if expected and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer "):].encode(), expected.encode())
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return False
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


@never_cache
@require_GET
def metrics(request):
    if not may_read_metrics(request):
        response = HttpResponse("Metrics need the metrics token or a staff session with its second factor.\n",
                                status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(process_registry()) + generate_latest(_database_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
