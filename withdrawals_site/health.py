"""GET /health/: database, Redis, worker and each chain node, up or down.

Every check has a short timeout and the slow ones (worker, chain nodes) run in parallel, so the
answer comes within about two seconds even when something hangs. The status code is 200 when
the database and Redis answer (the console can take requests) and 503 otherwise; the worker and
the chain nodes are reported but do not make the console unhealthy by themselves.

Each check is ``{"status": "up" | "down" | "not_configured", "detail": "..."}``.

Who asks decides how much is said: anyone gets ``{"status": "up" | "down"}`` (database and Redis
only, same status codes); a staff session or the health token (HEALTH_TOKEN, sent as
``Authorization: Bearer <token>`` or ``X-Health-Token``) gets every check with its detail.

``reconciliation``
has one entry per network: ``"ok"``, or ``"alert"`` with the open reconciliation alerts' reasons
(sending on that network is paused until they are acknowledged); an alert makes the answer
``degraded``, not 503.
"""

from __future__ import annotations

import hmac
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

BUDGET_SECONDS = 1.8  # for the whole answer
WORKER_PING_SECONDS = 1.0
NODE_TIMEOUT_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.5


def _up(detail: str) -> dict:
    return {"status": "up", "detail": detail}


def _down(detail: str) -> dict:
    return {"status": "down", "detail": " ".join(str(detail).split())[:300]}


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return _down(f"{type(exc).__name__}: {exc}")
    return _up(f"PostgreSQL {connection.settings_dict['NAME']}")


def check_redis() -> dict:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                  socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        client.ping()
    except redis.RedisError as exc:
        return _down(f"{type(exc).__name__}: {exc}")
    finally:
        client.close()
    return _up("PONG")


def check_worker() -> dict:
    """A Celery broadcast ping; returns as soon as one worker answers."""
    from withdrawals_site.celery import app

    replies = app.control.ping(timeout=WORKER_PING_SECONDS, limit=1)
    if not replies:
        return _down(f"no Celery worker answered within {WORKER_PING_SECONDS:.0f}s")
    names = sorted(name for reply in replies for name in reply)
    return _up(f"{', '.join(names)} answered")


def evm_block_number(url: str, *, timeout: float = NODE_TIMEOUT_SECONDS) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL from staff settings
        return int(json.loads(response.read())["result"], 16)


def check_node(network) -> dict:
    """Ask a network's node for its height: eth_blockNumber on EVM; elsewhere the adapter's
    ``block_number()``, or its backend's height (bitcoin backends' ``block_height()``, TRON's
    ``/wallet/getnowblock``)."""
    from chains.adapters import adapter_for, network_config
    from chains.models import Network

    config = network_config(network)
    if network.kind == Network.Kind.EVM:
        if not config.rpc_url:
            return {"status": "not_configured", "detail": "no RPC URL (set ETH_RPC_URL or the network's RPC URL)"}
        if not config.rpc_url.startswith(("http://", "https://")):
            return _down("the RPC URL is not an http(s) URL")
        try:
            return _up(f"block {evm_block_number(config.rpc_url)}")
        except Exception as exc:  # noqa: BLE001
            return _down(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}")
    try:
        adapter = adapter_for(network)
    except Exception as exc:  # noqa: BLE001 - e.g. the adapter module is not installed
        return _down(f"no adapter for {network.kind}: {exc}")
    probe = getattr(adapter, "block_number", None)
    try:
        if callable(probe):
            return _up(f"block {probe()}")
        backend = getattr(adapter, "backend", None)
        if backend is None:
            return {"status": "not_configured", "detail": f"the {network.kind} adapter has no node probe"}
        kind = type(backend).__name__
        if callable(getattr(backend, "block_height", None)):  # utxo backends
            return _up(f"block {backend.block_height()} ({kind})")
        if callable(getattr(backend, "post", None)):  # TRON HTTP API and its recorded twin
            block = backend.post("/wallet/getnowblock", {})
            return _up(f"block {int(block['block_header']['raw_data']['number'])} ({kind})")
        return {"status": "not_configured", "detail": f"the {network.kind} adapter has no node probe"}
    except Exception as exc:  # noqa: BLE001
        return _down(f"{type(exc).__name__}: {exc}")


def may_see_details(request) -> bool:
    """A staff session, or the configured health token (compared in constant time)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    expected = settings.HEALTH_TOKEN
    if not expected:
        return False
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer "):] if header.startswith("Bearer ") else request.headers.get("X-Health-Token", "")
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def check_reconciliation(networks) -> dict:
    """Per network: "alert" with the open reconciliation alerts' reasons (sending paused until two
    staff acknowledge them), else "ok". Database rows only (the beat task reads the chains)."""
    if not networks:
        return {}
    from withdrawals.selectors.reconciliation import reconciliation_status_by_network

    try:
        alerts = reconciliation_status_by_network()
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {network.code: _down(f"{type(exc).__name__}: {exc}") for network in networks}
    result = {}
    for network in networks:
        found = alerts.get(network.code)
        if found:
            detail = " | ".join(f"RA{a.pk}: {a.reason}" for a in found)
            result[network.code] = {"status": "alert",
                                    "detail": f"sending paused until acknowledged: {detail}"[:600]}
        else:
            result[network.code] = {"status": "ok", "detail": "no open reconciliation alert"}
    return result


@never_cache
@require_GET
def health(request):
    started = time.monotonic()
    checks: dict = {"database": check_database(), "redis": check_redis()}
    if not may_see_details(request):
        serving = checks["database"]["status"] == "up" and checks["redis"]["status"] == "up"
        return JsonResponse({"status": "up" if serving else "down"}, status=200 if serving else 503)
    networks = []
    if checks["database"]["status"] == "up":
        from chains.models import Network

        networks = list(Network.objects.order_by("code"))

    pool = ThreadPoolExecutor(max_workers=1 + len(networks), thread_name_prefix="health")
    try:
        worker = pool.submit(check_worker) if checks["redis"]["status"] == "up" else None
        nodes = {network.code: pool.submit(check_node, network) for network in networks}

        def result(future, what: str) -> dict:
            try:
                return future.result(timeout=max(0.05, BUDGET_SECONDS - (time.monotonic() - started)))
            except FutureTimeout:
                return _down(f"{what} did not answer in time")
            except Exception as exc:  # noqa: BLE001
                return _down(f"{type(exc).__name__}: {exc}")

        checks["worker"] = result(worker, "the worker check") if worker else _down("Redis is down")
        checks["chains"] = {code: result(future, f"the {code} node") for code, future in nodes.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    checks["reconciliation"] = check_reconciliation(networks)
    serving = checks["database"]["status"] == "up" and checks["redis"]["status"] == "up"
    everything = serving and checks["worker"]["status"] == "up" and all(
        c["status"] != "down" for c in checks["chains"].values()) and all(
        c["status"] == "ok" for c in checks["reconciliation"].values())
    body = {"status": "ok" if everything else ("degraded" if serving else "down"), **checks,
            "elapsed_ms": int((time.monotonic() - started) * 1000)}
    return JsonResponse(body, status=200 if serving else 503)
