"""The admin index: the operations desk (withdrawals_site/desk/selectors.py does the reading)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from withdrawals_site.desk.selectors import cashout_waiting, dashboard


def _url(name: str, **query) -> str:
    try:
        base = reverse(name)
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode(query)}" if query else base


def age_text(delta: timedelta | None) -> str:
    """"3 d 4 h", "2 h 5 min", "40 s": how long, to the unit that matters."""
    if delta is None:
        return "—"
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


def board_sla(board) -> int:
    return int(board.states[0].late_after.total_seconds() // 60)


def desk_index(request, extra_context=None):
    """What needs a human now, for the signed-in member's role; each number links to its list."""
    user = request.user
    board = dashboard(user=user)
    orders = "admin:withdrawals_withdrawalorder_changelist"
    may = {
        "orders": user.has_perm("withdrawals.view_withdrawalorder"),
        "work_orders": user.has_perm("approvals.view_workorder"),
        "fees": user.has_perm("withdrawals.view_feereservecoin") or user.has_perm("approvals.view_feereserverequest"),
        "fee_requests": user.has_perm("approvals.add_feereserverequest"),
        "reconciliation": user.has_perm("withdrawals.view_reconciliationalert"),
        "networks": user.has_perm("chains.view_network"),
    }
    states = [{
        "line": s, "age": age_text(board.now - s.oldest) if s.oldest else "—",
        "url": _url(orders, status__exact=s.status),
        "late_url": _url(orders, status__exact=s.status, in_state_over=int(s.late_after.total_seconds() // 60))
        if s.late_after else "",
        "late_after": age_text(s.late_after) if s.late_after else "",
    } for s in board.states]
    cover = [{
        "line": c, "runs_out": age_text(c.runs_out_in) if c.runs_out_in is not None else "",
        "runs_out_at": (board.now + c.runs_out_in) if c.runs_out_in is not None and
        c.runs_out_in < timedelta(days=3650) else None,
    } for c in board.cover]
    networks = [{
        "line": n, "lag_avg": age_text(n.lag_avg), "lag_max": age_text(n.lag_max),
        "confirming_age": age_text(board.now - n.oldest_confirming) if n.oldest_confirming else "—",
        "broadcasting_url": _url(orders, status__exact="broadcasting", coin__network__id__exact=n.network.pk),
        "confirming_url": _url(orders, status__exact="confirming", coin__network__id__exact=n.network.pk),
        "completed_url": _url(orders, status__exact="completed", completed="24h",
                              coin__network__id__exact=n.network.pk),
    } for n in board.networks]
    cashout = [{"line": c, "url": _url(c.list_name, **c.query),
                "age": age_text(board.now - c.oldest) if c.oldest else "—"}
               for c in cashout_waiting() if user.has_perm(c.permission)]
    volume = [{**v, "url": _url(orders, status__exact="completed", completed="today", coin__id__exact=v["coin_id"])}
              for v in board.volume_today]
    gaps = board.nonce_gaps.get("gaps", [])
    alerts = {
        "approvals": board.approvals_past_sla, "stuck": board.stuck, "nonce_gaps": len(gaps),
        "fees": sum(1 for c in board.cover if c.below_cover), "reconciliation": len(board.reconciliation),
    }
    context = {
        **admin.site.each_context(request), "title": "Operations desk", "subtitle": None, "board": board,
        "may": may, "cashout": cashout, "states": states, "cover": cover, "networks": networks, "volume": volume,
        "alerts": alerts,
        "alert_total": sum(alerts.values()), "gaps": gaps,
        "sla_minutes": board_sla(board),
        "my_queue_age": age_text(board.now - board.my_queue_oldest) if board.my_queue_oldest else "—",
        "urls": {
            "queue": _url("admin:approvals_workorder_changelist"),
            "past_sla": _url("admin:approvals_workorder_changelist", queue="all", status__exact="open",
                             older_than=board_sla(board)),
            "stuck": _url(orders, chain="stuck"), "nonce_gap": _url(orders, chain="nonce_gap"),
            "fee_reserve": _url("admin:withdrawals_feereservecoin_changelist"),
            "awaiting_fee": _url(orders, status__exact="awaiting_fee"),
            "topup": _url("admin:approvals_feereserverequest_add", kind="main_topup"),
            "sub_to_main": _url("admin:approvals_feereserverequest_add", kind="sub_to_main"),
            "reconciliation": _url("admin:withdrawals_reconciliationalert_changelist", acknowledged_at__isempty="1"),
            "kill_switches": _url("admin:withdrawals_networksendingcontrol_changelist"),
            "apps": _url("desk-apps"),
        },
        **(extra_context or {}),
    }
    return TemplateResponse(request, "admin/desk/index.html", context)
