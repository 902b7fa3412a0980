"""The desk's beat task: read the nodes (health, nonce gaps) into the cache the dashboard shows,
and turn the alerts of ``desk_alerts`` into events, one per alert while it lasts."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from withdrawals_site.desk.selectors import NODE_CACHE_KEY, NONCE_GAP_CACHE_KEY, desk_alerts

CACHE_SECONDS = 15 * 60  # a stale reading disappears rather than looking current


def desk_nodes_read() -> None:
    """Node heights and nonce gaps per network, into the cache (node calls: never on a page view)."""
    from chains.adapters import TransientChainError
    from chains.models import Network
    from withdrawals.selectors.nonce_gaps import nonce_gaps
    from withdrawals_site.health import check_node

    now = timezone.now().strftime("%Y-%m-%d %H:%M:%S UTC")
    nodes, gaps, errors = {}, [], []
    for network in Network.objects.order_by("code"):
        try:
            nodes[network.code] = {**check_node(network), "at": now}
        except Exception as error:  # noqa: BLE001 - a node down is a reading, not a crash
            nodes[network.code] = {"status": "down", "detail": str(error)[:200], "at": now}
        if network.kind != Network.Kind.EVM or nodes[network.code].get("status") != "up":
            continue
        try:
            gaps += [{"network": g.network, "address": g.address, "confirmed_nonce": g.confirmed_nonce,
                      "order_id": g.order_id, "tx_hash": g.tx_hash, "text": str(g)}
                     for g in nonce_gaps(network=network)]
        except (TransientChainError, OSError) as error:
            errors.append(f"{network.code}: {error}")
    cache.set(NODE_CACHE_KEY, nodes, CACHE_SECONDS)
    cache.set(NONCE_GAP_CACHE_KEY, {"at": now, "gaps": gaps, "error": "; ".join(errors)}, CACHE_SECONDS)


def desk_alerts_sync(*, now=None) -> dict:
    """Open a DeskAlert (and record its ``alert.opened`` event, same transaction) for each new
    alert key; resolve (``alert.resolved``) the open ones no longer current. Idempotent."""
    from events.services import event_record
    from withdrawals_site.models import DeskAlert

    current = {alert.key: alert for alert in desk_alerts(now=now)}
    opened = resolved = 0
    open_keys = set(DeskAlert.objects.filter(resolved_at=None).values_list("key", flat=True))
    for key, alert in current.items():
        if key in open_keys:
            continue
        try:
            with transaction.atomic():
                row = DeskAlert.objects.create(key=key, kind=alert.kind, title=alert.title[:300],
                                               detail=alert.detail, url=alert.url, payload=alert.payload)
                event_record(kind="alert.opened", subject=row, payload={
                    "alert": alert.kind, "key": key, "title": alert.title, "detail": alert.detail,
                    "url": alert.url, **alert.payload})
            opened += 1
        except IntegrityError:  # another scan opened it at the same moment
            continue
    for key in open_keys - set(current):
        with transaction.atomic():
            row = DeskAlert.objects.select_for_update().filter(key=key, resolved_at=None).first()
            if row is None:
                continue
            row.resolved_at = timezone.now()
            row.save(update_fields=["resolved_at", "last_seen_at"])
            event_record(kind="alert.resolved", subject=row, payload={"alert": row.kind, "key": key,
                                                                       "title": row.title})
            resolved += 1
    DeskAlert.objects.filter(resolved_at=None, key__in=list(current)).update(last_seen_at=timezone.now())
    return {"open": len(current), "opened": opened, "resolved": resolved}


@shared_task(name="desk.alerts_scan", ignore_result=True)
def alerts_scan() -> dict:
    desk_nodes_read()
    return desk_alerts_sync()
