"""Alerts for what needs a human: one ``alert.opened`` event per alert while it lasts, an
``alert.resolved`` when it is gone, written in the same transaction as the alert row; the
node readings the desk shows come from the beat task, never from a page view."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from events.models import Event
from ledger.services import ledger_transfer
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory
from withdrawals.models import WithdrawalOrder
from withdrawals_site.desk import tasks
from withdrawals_site.desk.selectors import NODE_CACHE_KEY, NONCE_GAP_CACHE_KEY
from withdrawals_site.models import DeskAlert

pytestmark = pytest.mark.django_db


def _awaiting_fee_order(fee="0.05"):
    coin = CoinFactory(network_fee_estimate=Decimal("0.001"))
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, network=coin.network)
    return WithdrawalOrder.objects.create(
        customer=customer, coin=coin, address=address, destination=address.address, amount=Decimal("0.5"),
        customer_fee=0, network_fee_estimate=Decimal("0.001"), fee_wanted=Decimal(fee), status="awaiting_fee")


def test_one_event_per_alert_while_it_lasts_and_one_when_it_is_resolved():
    order = _awaiting_fee_order()
    assert tasks.desk_alerts_sync() == {"open": 1, "opened": 1, "resolved": 0}
    assert tasks.desk_alerts_sync() == {"open": 1, "opened": 0, "resolved": 0}  # the same alert: no new event
    (event,) = Event.objects.filter(kind="alert.opened")
    assert event.payload["alert"] == "fee_reserve_below_cover" and event.payload["missing"] == "0.05"
    alert = DeskAlert.objects.get()
    assert (event.subject_type, event.subject_id) == ("withdrawals_site.deskalert", str(alert.pk))

    ledger_transfer(tenant=order.customer.tenant, currency=order.coin.fee_currency.code, amount=Decimal("1"),
                    kind="main_topup", reference="topup")
    assert tasks.desk_alerts_sync() == {"open": 0, "opened": 0, "resolved": 1}
    assert Event.objects.filter(kind="alert.resolved").count() == 1
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_an_alert_that_comes_back_is_a_new_alert_with_a_new_event():
    order = _awaiting_fee_order()
    tasks.desk_alerts_sync()
    WithdrawalOrder.objects.filter(pk=order.pk).update(fee_wanted=0, network_fee_estimate=0)
    order.coin.network_fee_estimate = Decimal(0)
    order.coin.save()
    tasks.desk_alerts_sync()
    WithdrawalOrder.objects.filter(pk=order.pk).update(fee_wanted=Decimal("0.05"))
    order.coin.network_fee_estimate = Decimal("0.001")
    order.coin.save()
    tasks.desk_alerts_sync()
    assert Event.objects.filter(kind="alert.opened").count() == 2
    assert DeskAlert.objects.filter(resolved_at=None).count() == 1


def test_a_rolled_back_scan_leaves_neither_alert_nor_event():
    _awaiting_fee_order()
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.desk_alerts_sync()
        raise RuntimeError
    assert not DeskAlert.objects.exists() and not Event.objects.filter(kind__startswith="alert.").exists()


def test_approval_past_its_sla_is_an_alert(settings):
    from approvals.models import ApprovalFlow, WorkOrder

    settings.DESK_APPROVAL_SLA_MINUTES = 30
    order = _awaiting_fee_order()
    from django.contrib.contenttypes.models import ContentType

    flow = ApprovalFlow.objects.create(type="atm.va.withdraw", version=99)
    wo = WorkOrder.objects.create(type="atm.va.withdraw", flow=flow, object_id=order.pk,
                                  content_type=ContentType.objects.get_for_model(order),
                                  subject_label=f"Withdrawal W{order.pk}")
    WorkOrder.objects.filter(pk=wo.pk).update(created_at=timezone.now() - timedelta(hours=1))
    tasks.desk_alerts_sync()
    assert set(DeskAlert.objects.values_list("kind", flat=True)) == {"approval_sla", "fee_reserve_below_cover"}
    assert Event.objects.filter(kind="alert.opened", payload__alert="approval_sla").count() == 1


def test_the_beat_task_reads_the_nodes_into_the_cache(monkeypatch):
    CoinFactory()
    monkeypatch.setattr("withdrawals_site.health.check_node", lambda network: {"status": "down", "detail": "refused"})
    tasks.desk_nodes_read()
    assert cache.get(NODE_CACHE_KEY)["ETH"]["status"] == "down"
    assert cache.get(NONCE_GAP_CACHE_KEY)["gaps"] == []  # a node down is not asked for gaps
