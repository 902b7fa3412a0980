"""Reads for /metrics (withdrawals_site/metrics.py): open orders only, a few grouped queries
whatever the number of orders (terminal states are never counted: they grow without bound)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange

Status = WithdrawalOrder.Status
OPEN_STATES = [s for s in Status.values if s not in WithdrawalOrder.TERMINAL]


@dataclass(frozen=True)
class OpenState:
    status: str
    count: int
    oldest_since: datetime | None  # when the longest-waiting order entered this state


def _entered_current_state():
    """When each order moved into the state it is in (its request time if it never moved)."""
    last_move = (WithdrawalStatusChange.objects.filter(order=OuterRef("pk"), to_status=OuterRef("status"))
                 .order_by().values("order").annotate(at=Max("at")).values("at"))
    return Coalesce(Subquery(last_move), F("created_at"))


def withdrawal_open_states() -> list[OpenState]:
    """Every open state (zero included) with its count and the oldest order's entry time."""
    rows = (WithdrawalOrder.objects.filter(status__in=OPEN_STATES).annotate(entered=_entered_current_state())
            .values("status").annotate(n=Count("id"), oldest=Min("entered")).order_by())
    found = {row["status"]: row for row in rows}
    return [OpenState(status=s, count=found.get(s, {}).get("n", 0), oldest_since=found.get(s, {}).get("oldest"))
            for s in OPEN_STATES]


def withdrawal_confirmation_lag() -> list[tuple[str, datetime | None]]:
    """Per network with enabled coins: when the oldest confirming order started confirming."""
    from chains.models import Network

    rows = dict(WithdrawalOrder.objects.filter(status=Status.CONFIRMING).annotate(entered=_entered_current_state())
                .values("coin__network__code").annotate(oldest=Min("entered")).order_by()
                .values_list("coin__network__code", "oldest"))
    networks = Network.objects.filter(Q(coins__enabled=True) | Q(code__in=list(rows))).distinct()
    return [(code, rows.get(code)) for code in networks.order_by("code").values_list("code", flat=True)]
