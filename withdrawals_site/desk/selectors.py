"""Reads of the dashboard (docs/OPERATIONS.md). Every section is one or two aggregate queries
whose cost follows the open work (open orders, the last day's completions), never the size of
the order or journal tables: a test counts them and bench/admin_lists_bench.py times them at
1k and 1M orders. Nothing here calls a node: node health and nonce gaps are read from the
cache that the beat task ``desk.alerts_scan`` fills (withdrawals_site/desk/tasks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from approvals.models import WorkOrder
from approvals.selectors import work_order_queue
from chains.models import Network, SendingSwitch
from core.amounts import format_amount
from withdrawals.models import ReconciliationAlert, WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction
from withdrawals.pipeline.delays import stuck_after
from withdrawals.selectors.fee_reserve import FeeReserveLine, fee_reserve_overview

Status = WithdrawalOrder.Status
ZERO = Decimal(0)
# The states a human may have to act on, in the order the desk shows them.
OPEN_STATES = (Status.PENDING_APPROVAL, Status.APPROVED, Status.AWAITING_FEE, Status.REVIEW_REQUIRED,
               Status.BROADCASTING, Status.CONFIRMING)
NODE_CACHE_KEY = "desk:nodes"
NONCE_GAP_CACHE_KEY = "desk:nonce-gaps"


def approval_sla() -> timedelta:
    return timedelta(minutes=settings.DESK_APPROVAL_SLA_MINUTES)


def broadcasting_late_after() -> timedelta:
    return timedelta(minutes=settings.DESK_BROADCASTING_LATE_MINUTES)


@dataclass
class StateLine:
    status: str
    label: str
    count: int = 0
    oldest: datetime | None = None  # when the longest-waiting order entered the state
    late: int = 0  # past the state's threshold (approval SLA, broadcasting N minutes, stuck after)
    late_after: timedelta | None = None


@dataclass
class CoverLine:
    reserve: FeeReserveLine
    spent_24h: Decimal = ZERO

    @property
    def cover(self) -> Decimal | None:
        """Free main balance ÷ the fees the queued orders still need (None: nothing queued)."""
        need = self.reserve.needed + self.reserve.shortfall
        return (self.reserve.main / need).quantize(Decimal("0.01")) if need > 0 else None

    @property
    def below_cover(self) -> bool:
        return self.reserve.short

    @property
    def runs_out_in(self) -> timedelta | None:
        """At the last 24 hours' rate of fees paid, when the free balance is spent (None: no spend)."""
        if self.spent_24h <= 0:
            return None
        return timedelta(hours=float(self.reserve.main / self.spent_24h * 24))


@dataclass
class NetworkLine:
    network: Network
    paused: bool
    broadcasting: int = 0
    confirming: int = 0
    oldest_confirming: datetime | None = None
    completed_24h: int = 0
    lag_avg: timedelta | None = None  # signed → completed, orders completed in the last 24 h
    lag_max: timedelta | None = None
    node: dict | None = None  # from the cache: {"status", "detail", "at"}


@dataclass
class Alert:
    kind: str  # approval_sla | stuck_transaction | nonce_gap | fee_reserve_below_cover | reconciliation_difference
    key: str  # stable while the alert lasts: one event per key (desk.alerts_scan)
    title: str
    detail: str
    url: str = ""
    subject: object = None
    payload: dict = field(default_factory=dict)


@dataclass
class Dashboard:
    now: datetime
    states: list[StateLine]
    global_paused: bool
    my_queue: int
    my_queue_oldest: datetime | None
    approvals_past_sla: int
    stuck: int
    nonce_gaps: dict  # {"at", "gaps": [...], "error"} from the cache, or {}
    cover: list[CoverLine]
    networks: list[NetworkLine]
    reconciliation: list[ReconciliationAlert]
    volume_today: list[dict]
    since_midnight: datetime


def _entered_state():
    """When the order entered its current state: its newest history row to that state."""
    return Subquery(WithdrawalStatusChange.objects.filter(order=OuterRef("pk"), to_status=OuterRef("status"))
                    .order_by("-at", "-id").values("at")[:1])


def order_states(*, now: datetime) -> list[StateLine]:
    """Open orders per state with the oldest time in the state; one query over the open orders."""
    thresholds = {Status.PENDING_APPROVAL: approval_sla(), Status.BROADCASTING: broadcasting_late_after(),
                  Status.CONFIRMING: stuck_after()}
    late = Q()
    for status, after in thresholds.items():
        late |= Q(status=status, entered__lt=now - after)
    rows = (WithdrawalOrder.objects.filter(status__in=OPEN_STATES).annotate(entered=_entered_state())
            .order_by().values("status").annotate(n=Count("id"), oldest=Min("entered"),
                                                  late=Count("id", filter=late)))
    found = {row["status"]: row for row in rows}
    labels = dict(Status.choices)
    return [StateLine(status=s, label=labels[s], count=found.get(s, {}).get("n", 0),
                      oldest=found.get(s, {}).get("oldest"), late=found.get(s, {}).get("late", 0),
                      late_after=thresholds.get(s)) for s in OPEN_STATES]


def stuck_orders(*, now: datetime | None = None):
    """Sent but not included for PIPELINE_STUCK_AFTER_SECONDS (the admin's "Stuck" filter)."""
    cutoff = (now or timezone.now()) - stuck_after()
    live = [WithdrawalTransaction.State.SIGNED, WithdrawalTransaction.State.SENT]
    fresh = WithdrawalTransaction.objects.filter(order=OuterRef("pk"), state__in=live, created_at__gt=cutoff)
    old = WithdrawalTransaction.objects.filter(order=OuterRef("pk"), state__in=live, created_at__lte=cutoff)
    from django.db.models import Exists

    return (WithdrawalOrder.objects.filter(status__in=[Status.BROADCASTING, Status.CONFIRMING], confirmations=0)
            .filter(Exists(old)).exclude(Exists(fresh)))


def approvals_past_sla(*, now: datetime):
    return WorkOrder.objects.filter(status=WorkOrder.Status.OPEN, created_at__lt=now - approval_sla())


def fee_cover(*, now: datetime) -> list[CoverLine]:
    """Cover per tenant and fee currency, with the fees paid in the last 24 hours (4 queries)."""
    spent = {(row["customer__tenant_id"], row["coin__fee_currency__code"]): row["paid"] or ZERO
             for row in WithdrawalOrder.objects.filter(completed_at__gte=now - timedelta(hours=24))
             .order_by().values("customer__tenant_id", "coin__fee_currency__code").annotate(paid=Sum("fee_paid"))}
    return [CoverLine(reserve=line, spent_24h=spent.get((line.tenant_id, line.currency), ZERO))
            for line in fee_reserve_overview()]


def network_lines(*, now: datetime) -> list[NetworkLine]:
    """Per network: in flight, the oldest confirming, the last day's confirmation lag (3 queries)."""
    networks = list(Network.objects.order_by("code"))
    lines = {n.pk: NetworkLine(network=n, paused=n.sending_paused) for n in networks}
    for row in (WithdrawalOrder.objects.filter(status__in=[Status.BROADCASTING, Status.CONFIRMING]).order_by()
                .values("coin__network_id").annotate(
                    b=Count("id", filter=Q(status=Status.BROADCASTING)),
                    c=Count("id", filter=Q(status=Status.CONFIRMING)),
                    oldest=Min("updated_at", filter=Q(status=Status.CONFIRMING)))):
        line = lines[row["coin__network_id"]]
        line.broadcasting, line.confirming, line.oldest_confirming = row["b"], row["c"], row["oldest"]
    signed = Subquery(WithdrawalTransaction.objects.filter(order=OuterRef("pk")).order_by("created_at", "id")
                      .values("created_at")[:1])
    lag = ExpressionWrapper(F("completed_at") - F("signed"), output_field=DurationField())
    for row in (WithdrawalOrder.objects.filter(completed_at__gte=now - timedelta(hours=24), status=Status.COMPLETED)
                .annotate(signed=signed).order_by().values("coin__network_id")
                .annotate(n=Count("id"), avg=Avg(lag), max=Max(lag))):
        line = lines[row["coin__network_id"]]
        line.completed_24h, line.lag_avg, line.lag_max = row["n"], row["avg"], row["max"]
    nodes = cache.get(NODE_CACHE_KEY) or {}
    for line in lines.values():
        line.node = nodes.get(line.network.code)
    return list(lines.values())


def volume_today(*, since: datetime) -> list[dict]:
    """Completed since local midnight, per coin: count and amount (one query, the completed_at index)."""
    return list(WithdrawalOrder.objects.filter(completed_at__gte=since, status=Status.COMPLETED).order_by()
                .values("coin_id", "coin__currency__code", "coin__network__code")
                .annotate(n=Count("id"), amount=Sum("amount")).order_by("coin__currency__code", "coin__network__code"))


def local_midnight(now: datetime) -> datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard(*, user, now: datetime | None = None) -> Dashboard:
    """Everything the desk shows to ``user``; a constant number of queries (tests/site/test_desk.py)."""
    now = now or timezone.now()
    queue = work_order_queue(user=user).order_by().aggregate(n=Count("id", distinct=True), oldest=Min("created_at"))
    midnight = local_midnight(now)
    return Dashboard(
        now=now, states=order_states(now=now),
        global_paused=SendingSwitch.objects.filter(pk=1, sending_paused=True).exists(),
        my_queue=queue["n"] or 0, my_queue_oldest=queue["oldest"],
        approvals_past_sla=approvals_past_sla(now=now).count(),
        stuck=stuck_orders(now=now).count(),
        nonce_gaps=cache.get(NONCE_GAP_CACHE_KEY) or {},
        cover=fee_cover(now=now), networks=network_lines(now=now),
        reconciliation=list(ReconciliationAlert.objects.filter(acknowledged_at=None)
                            .select_related("network", "currency").order_by("detected_at")),
        volume_today=volume_today(since=midnight), since_midnight=midnight)


@dataclass
class CashoutLine:
    """One count of cash-out work waiting on a human, with the admin list that shows it."""

    label: str
    count: int
    oldest: datetime | None
    list_name: str  # admin changelist URL name
    query: dict
    permission: str


def cashout_waiting() -> list[CashoutLine]:
    """Fiat and P2P work that waits on staff or on a counterparty: one aggregate query per table."""
    from fiat.models import BankAccount, FiatWithdrawal, StatementLine
    from p2p.models import P2PTrade

    def counts(queryset, oldest_field: str, **states: Q) -> dict:
        aggregates = {}
        for name, condition in states.items():
            aggregates[f"{name}_n"] = Count("id", filter=condition)
            aggregates[f"{name}_oldest"] = Min(oldest_field, filter=condition)
        return queryset.order_by().aggregate(**aggregates)

    trades = counts(P2PTrade.objects.all(), "updated_at",
                    appeal=Q(status="in_appeal"), paid=Q(status="buyer_paid"))
    accounts = counts(BankAccount.objects.all(), "created_at", review=Q(status="pending_review"))
    payouts = counts(FiatWithdrawal.objects.all(), "created_at", pending=Q(status="pending_approval"),
                     approved=Q(status="approved"), overdue=Q(status="sent", overdue_flagged_at__isnull=False))
    lines = counts(StatementLine.objects.all(), "statement__created_at", unmatched=Q(outcome="unmatched"))

    def line(label, row, name, list_name, query, permission):
        return CashoutLine(label, row[f"{name}_n"] or 0, row[f"{name}_oldest"], list_name, query, permission)

    fiat_list = "admin:fiat_fiatwithdrawal_changelist"
    return [
        line("P2P trades in appeal (staff decide)", trades, "appeal", "admin:p2p_p2ptrade_changelist",
             {"status__exact": "in_appeal"}, "p2p.view_p2ptrade"),
        line("P2P trades paid, waiting for the seller", trades, "paid", "admin:p2p_p2ptrade_changelist",
             {"status__exact": "buyer_paid"}, "p2p.view_p2ptrade"),
        line("Bank accounts waiting for review", accounts, "review", "admin:fiat_bankaccount_changelist",
             {"status__exact": "pending_review"}, "fiat.view_bankaccount"),
        line("Fiat withdrawals waiting for approval", payouts, "pending", fiat_list,
             {"status__exact": "pending_approval"}, "fiat.view_fiatwithdrawal"),
        line("Fiat withdrawals approved, not yet in a payment file", payouts, "approved", fiat_list,
             {"status__exact": "approved"}, "fiat.view_fiatwithdrawal"),
        line("Fiat payments sent and overdue on the statement", payouts, "overdue", fiat_list,
             {"status__exact": "sent", "overdue_flagged_at__isnull": "False"}, "fiat.view_fiatwithdrawal"),
        line("Statement lines nobody matched", lines, "unmatched", "admin:fiat_statementline_changelist",
             {"outcome__exact": "unmatched"}, "fiat.view_statementline"),
    ]


# --- alerts: what needs a human, item by item (the desk and the alert events) -------------------

ALERT_LIMIT = 200  # per kind; the desk links to the full filtered list


def desk_alerts(*, now: datetime | None = None) -> list[Alert]:
    """Every current alert with a key that stays the same while it lasts (bounded queries)."""
    from django.urls import reverse

    now = now or timezone.now()
    alerts: list[Alert] = []
    orders_url = reverse("admin:withdrawals_withdrawalorder_changelist")
    for wo in approvals_past_sla(now=now).order_by("created_at", "id")[:ALERT_LIMIT]:
        alerts.append(Alert(
            kind="approval_sla", key=f"approval_sla:{wo.pk}", subject=wo,
            title=f"WO{wo.pk} waits past the approval SLA",
            detail=f"{wo.subject_label or wo.get_type_display()}: open since {wo.created_at:%Y-%m-%d %H:%M} UTC "
                   f"(SLA {settings.DESK_APPROVAL_SLA_MINUTES} min)",
            url=reverse("admin:approvals_workorder_change", args=[wo.pk]),
            payload={"work_order": wo.pk, "type": wo.type, "opened_at": wo.created_at.isoformat()}))
    for order in stuck_orders(now=now).select_related("coin__network").order_by("id")[:ALERT_LIMIT]:
        alerts.append(Alert(
            kind="stuck_transaction", key=f"stuck_transaction:{order.pk}:{order.tx_hash}", subject=order,
            title=f"W{order.pk}: transaction stuck on {order.coin.network.code}",
            detail=f"{order.tx_hash} sent, not included after {settings.PIPELINE_STUCK_AFTER_SECONDS} s: "
                   "bump the fee", url=reverse("admin:withdrawals_withdrawalorder_change", args=[order.pk]),
            payload={"withdrawal": order.pk, "tx_hash": order.tx_hash, "network": order.coin.network.code}))
    for gap in (cache.get(NONCE_GAP_CACHE_KEY) or {}).get("gaps", []):
        alerts.append(Alert(
            kind="nonce_gap", key=f"nonce_gap:{gap['network']}:{gap['address']}:{gap['confirmed_nonce']}",
            title=f"Nonce gap on {gap['network']}", detail=gap["text"], url=orders_url + "?chain=nonce_gap",
            payload=gap))
    for line in fee_reserve_overview():
        if line.short:
            alerts.append(Alert(
                kind="fee_reserve_below_cover", key=f"fee_reserve_below_cover:{line.tenant_id}:{line.currency}",
                title=f"Fee reserve below cover: {line.tenant} {line.currency}",
                detail=f"main account {line.main.normalize():f}, the queued orders need "
                       f"{line.needed.normalize():f} (missing {line.missing.normalize():f})",
                url=reverse("admin:withdrawals_feereservecoin_changelist"),
                payload={"tenant": line.tenant_id, "currency": line.currency, "main": format_amount(line.main),
                         "needed": format_amount(line.needed), "missing": format_amount(line.missing)}))
    for alert in (ReconciliationAlert.objects.filter(acknowledged_at=None).select_related("network", "currency")
                  .order_by("detected_at")[:ALERT_LIMIT]):
        alerts.append(Alert(
            kind="reconciliation_difference", key=f"reconciliation_difference:{alert.pk}", subject=alert,
            title=f"Reconciliation difference on {alert.network.code} {alert.currency.code}",
            detail=f"{alert.address}: {alert.difference.normalize():f} {alert.currency.code} outside the expected "
                   f"range", url=reverse("admin:withdrawals_reconciliationalert_change", args=[alert.pk]),
            payload={"alert": alert.pk, "network": alert.network.code, "currency": alert.currency.code,
                     "difference": format_amount(alert.difference)}))
    return alerts
