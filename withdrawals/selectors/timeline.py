"""One timeline per withdrawal for its admin page: request, screening, each decision, fee
reserve, signing, every candidate and what the node and the chain said of it (with an explorer
link from the network's ``explorer_tx_url``), confirmation, each ledger entry. Seven queries
whatever the order's history (tests/withdrawals/test_desk_admin.py counts them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Prefetch, Subquery, Sum

from core.admin_paging import prefix_range
from core.amounts import format_amount
from withdrawals.models import WithdrawalOrder, WithdrawalTransaction, WithdrawalTransactionStateChange


@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # request | work_order | status | transaction | confirmation | ledger
    title: str
    detail: str = ""
    actor: str = ""
    url: str = ""  # explorer link or admin page
    tx_hash: str = ""


def _actor(user) -> str:
    return user.get_username() if user is not None else "system"


def withdrawal_timeline(order: WithdrawalOrder) -> list[TimelineEvent]:
    from approvals.models import WorkOrder, WorkOrderEvent
    from ledger.models import JournalEntry, JournalLeg

    network = order.coin.network
    fee_unit = order.coin.fee_currency.code
    events = [TimelineEvent(
        at=order.created_at, kind="request", actor=str(order.customer),
        title=f"Requested {format_amount(order.amount)} {order.coin.currency.code} to {order.destination}",
        detail=f"customer fee {format_amount(order.customer_fee)} {order.coin.currency.code}, network fee "
               f"estimate {format_amount(order.network_fee_estimate)} {fee_unit}")]
    content_type = ContentType.objects.get_for_model(WithdrawalOrder)
    work_orders = (WorkOrder.objects.filter(content_type=content_type, object_id=order.pk).order_by("created_at")
                   .prefetch_related(Prefetch("events", queryset=WorkOrderEvent.objects.select_related("actor")
                                              .order_by("at", "id"))))
    for wo in work_orders:
        for event in wo.events.all():
            title = f"WO{wo.pk} {event.get_kind_display().lower()}"
            if event.kind == WorkOrderEvent.Kind.SCREENED and wo.screening:
                title = f"Screening: {wo.screening.get('outcome', '?')}"
            elif event.step_position:
                title += f" (step {event.step_position})"
            if event.to_status:
                title += f": {event.to_status}"
            detail = event.reason
            if event.kind == WorkOrderEvent.Kind.SCREENED and not detail:
                detail = (wo.screening or {}).get("reason", "")
            events.append(TimelineEvent(at=event.at, kind="work_order", title=title, actor=_actor(event.actor),
                                        detail=detail))
    labels = dict(WithdrawalOrder.Status.choices)
    for change in order.history.select_related("actor").order_by("at", "id"):
        move = (f"{labels.get(change.from_status, change.from_status)} → {labels.get(change.to_status)}"
                if change.from_status != change.to_status else labels.get(change.to_status, change.to_status))
        kind = "confirmation" if change.to_status in ("confirming", "completed") else "status"
        events.append(TimelineEvent(at=change.at, kind=kind, title=move, detail=change.reason,
                                    actor=_actor(change.actor)))
    transactions = (WithdrawalTransaction.objects.filter(order=order).order_by("created_at", "id")
                    .prefetch_related(Prefetch("history", queryset=WithdrawalTransactionStateChange.objects
                                               .select_related("actor").order_by("at", "id"))))
    for tx in transactions:
        url = network.explorer_url(tx.tx_hash)
        bump = f", fee bump {tx.fee_bump}" if tx.fee_bump else ""
        events.append(TimelineEvent(
            at=tx.created_at, kind="transaction", tx_hash=tx.tx_hash, url=url,
            title=f"Signed candidate {tx.tx_hash}",
            detail=f"nonce {tx.nonce if tx.nonce is not None else '—'}, max fee {format_amount(tx.max_fee)} "
                   f"{fee_unit}{bump}; now {tx.get_state_display().lower()}"))
        for change in tx.history.all():
            events.append(TimelineEvent(
                at=change.at, kind="transaction", tx_hash=tx.tx_hash, url=url, actor=_actor(change.actor),
                title=f"{tx.tx_hash[:12]}…: {change.from_status or 'new'} → {change.to_status}",
                detail=change.reason))
    if order.tx_hash and order.confirmations:
        events.append(TimelineEvent(
            at=order.updated_at, kind="confirmation", tx_hash=order.tx_hash, url=network.explorer_url(order.tx_hash),
            title=f"{order.confirmations} of {order.coin.confirmations} confirmations",
            detail=f"block {order.block_number} {order.block_hash}".strip()))
    debits = (JournalLeg.objects.filter(entry=OuterRef("pk"), amount__gt=0).order_by().values("entry")
              .annotate(total=Sum("amount")).values("total"))
    for entry in (JournalEntry.objects.filter(**prefix_range("reference", f"withdrawal:{order.pk}:"))
                  .annotate(debits=Subquery(debits)).order_by("created_at", "id")):
        from django.urls import reverse

        events.append(TimelineEvent(
            at=entry.created_at, kind="ledger", title=f"Ledger: {entry.get_kind_display()} {entry.reference}",
            detail=f"{format_amount(entry.debits or Decimal(0))} {entry.currency_id}",
            url=reverse("admin:ledger_journalentry_change", args=[entry.pk])))
    return sorted(events, key=lambda e: e.at)
