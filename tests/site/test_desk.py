"""The operations desk (the admin index): what it counts, where each number links, the fee cover
counting an awaiting-fee order at the fee it failed to reserve, the pause it names, the alerts,
and a query count that does not grow with the orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chains.models import SendingSwitch
from ledger.services import ledger_transfer
from tests.fixtures.factories import AddressFactory, CoinFactory, CustomerFactory, StaffFactory
from tests.fixtures.staff import login_verified_staff
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction
from withdrawals.selectors.fee_reserve import fee_reserve_overview
from withdrawals_site.desk.selectors import dashboard, desk_alerts

pytestmark = pytest.mark.django_db


def _orders(coin, count: int, status: str, *, age: timedelta = timedelta(0), **fields) -> list[WithdrawalOrder]:
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, network=coin.network)
    at = timezone.now() - age
    orders = WithdrawalOrder.objects.bulk_create([WithdrawalOrder(
        customer=customer, coin=coin, address=address, destination=address.address, amount=Decimal("0.5"),
        customer_fee=Decimal(0), network_fee_estimate=Decimal("0.01"), status=status, **fields)
        for _ in range(count)])
    WithdrawalOrder.objects.filter(pk__in=[o.pk for o in orders]).update(created_at=at)
    WithdrawalStatusChange.objects.bulk_create([WithdrawalStatusChange(order=o, from_status="", to_status=status)
                                                for o in orders])
    WithdrawalStatusChange.objects.filter(order__in=orders).update(at=at)
    return orders


def _desk(client, user=None):
    user = user or StaffFactory(is_superuser=True)
    login_verified_staff(client, user)
    return client.get(reverse("admin:index"))


def test_the_admin_index_is_the_desk_with_every_number_linking_to_its_list(client, settings):
    settings.DESK_APPROVAL_SLA_MINUTES = 60
    coin = CoinFactory(network_fee_estimate=Decimal("0.01"))
    _orders(coin, 3, "pending_approval", age=timedelta(hours=2))
    _orders(coin, 1, "pending_approval")
    _orders(coin, 2, "broadcasting", age=timedelta(minutes=30))
    page = _desk(client)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Operations desk" in html
    orders = reverse("admin:withdrawals_withdrawalorder_changelist")
    pending = next(s for s in page.context["states"] if s["line"].status == "pending_approval")
    assert (pending["line"].count, pending["line"].late) == (4, 3)
    assert pending["age"].startswith("2 h")
    assert f'href="{orders}?status__exact=pending_approval"' in html
    assert f'{orders}?status__exact=pending_approval&amp;in_state_over=60' in html
    broadcasting = next(s for s in page.context["states"] if s["line"].status == "broadcasting")
    assert (broadcasting["line"].count, broadcasting["line"].late) == (2, 2)
    # the late link lists exactly the late ones
    listed = client.get(orders, {"status__exact": "pending_approval", "in_state_over": "60"})
    assert len(listed.context["cl"].result_list) == 3
    assert client.get(reverse("desk-apps")).status_code == 200  # Django's list of models, one click away


def test_the_desk_queries_do_not_grow_with_the_orders(client):
    coin = CoinFactory(network_fee_estimate=Decimal("0.01"))
    user = StaffFactory(is_superuser=True)
    _orders(coin, 2, "approved")
    _orders(coin, 1, "completed", completed_at=timezone.now(), fee_paid=Decimal("0.001"))
    _desk(client, user)  # signed in; the caches warm (content types)
    index = reverse("admin:index")
    with CaptureQueriesContext(connection) as few:
        assert client.get(index).status_code == 200
    for status in ("pending_approval", "approved", "awaiting_fee", "broadcasting", "confirming", "review_required"):
        _orders(CoinFactory(network_fee_estimate=Decimal("0.02")), 5, status, age=timedelta(hours=3))
    _orders(coin, 20, "completed", completed_at=timezone.now(), fee_paid=Decimal("0.001"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(index).status_code == 200
    assert len(few) == len(many), [q["sql"] for q in many.captured_queries]
    assert len(many) <= 24, "\n".join(q["sql"][:120] for q in many.captured_queries)


def test_an_awaiting_fee_order_counts_at_the_fee_it_failed_to_reserve(client):
    # The coin's stored estimate is lower than what the order failed to reserve: the cover must not say "enough".
    coin = CoinFactory(network_fee_estimate=Decimal("0.001"))
    (order,) = _orders(coin, 1, "awaiting_fee", fee_wanted=Decimal("0.05"))
    ledger_transfer(tenant=order.customer.tenant, currency=coin.fee_currency.code, amount=Decimal("0.01"),
                    kind="main_topup", reference="topup-1")
    (line,) = fee_reserve_overview()
    assert (line.needed, line.missing, line.short) == (Decimal("0.05"), Decimal("0.04"), True)
    page = _desk(client)
    (cover,) = page.context["cover"]
    assert cover["line"].below_cover and cover["line"].cover == Decimal("0.20")
    assert "Fee reserve below cover" in page.content.decode()
    fee_page = client.get(reverse("admin:withdrawals_feereservecoin_changelist")).content.decode()
    assert "SHORT by 0.04" in fee_page
    assert [a.kind for a in desk_alerts()] == ["fee_reserve_below_cover"]


def test_cover_forecast_at_the_last_days_rate(client):
    coin = CoinFactory(network_fee_estimate=Decimal("0.01"))
    (queued,) = _orders(coin, 1, "approved")
    _orders(coin, 4, "completed", completed_at=timezone.now() - timedelta(hours=1), fee_paid=Decimal("0.25"))
    ledger_transfer(tenant=queued.customer.tenant, currency=coin.fee_currency.code, amount=Decimal("2"),
                    kind="main_topup", reference="topup-2")
    board = dashboard(user=StaffFactory(is_superuser=True))
    line = next(c for c in board.cover if c.reserve.tenant_id == queued.customer.tenant_id)
    assert line.spent_24h == Decimal("1") and line.cover == Decimal("200.00")
    assert line.runs_out_in == timedelta(hours=48)  # 2 left at 1 a day


def test_a_member_sees_the_sections_of_their_role_and_the_work_orders_waiting_for_them(client):
    user = StaffFactory()
    user.user_permissions.add(Permission.objects.get(codename="view_workorder"))
    user.groups.add(Group.objects.get_or_create(name="Withdrawal approvers")[0])
    page = _desk(client, user)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="desk-queue"' in html
    assert 'id="desk-states"' not in html and 'id="desk-cover"' not in html  # no order or fee permission


def test_stuck_transactions_and_the_global_pause_are_on_the_desk(client, settings):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 600
    coin = CoinFactory()
    (order,) = _orders(coin, 1, "confirming", tx_hash="0xabc")
    tx = WithdrawalTransaction.objects.create(order=order, tx_hash="0xabc", raw="00", sender="s",
                                              max_fee=Decimal("0.001"), state="sent")
    WithdrawalTransaction.objects.filter(pk=tx.pk).update(created_at=timezone.now() - timedelta(hours=1))
    SendingSwitch.objects.update_or_create(pk=1, defaults={"sending_paused": True})
    page = _desk(client)
    html = page.content.decode()
    assert page.context["board"].stuck == 1 and "ALL networks (global switch)" in html
    assert f'{reverse("admin:withdrawals_withdrawalorder_changelist")}?chain=stuck' in html
    assert [a.key for a in desk_alerts()] == [f"stuck_transaction:{order.pk}:0xabc"]


def test_cash_out_work_waiting_on_a_human_is_counted_and_linked(client, settings):
    """A bank account waiting for review shows on a Compliance member's desk, linked to its list."""
    from fiat.services.bank_accounts import bank_account_register
    from tests.fixtures.factories import CurrencyFactory

    CurrencyFactory(code="HKD", decimals=2)
    customer = CustomerFactory(legal_name="CHAN Tai Man", country="HK", kyc_level=2)
    bank_account_register(customer=customer, holder_name="CHAN Tai Man", currency="HKD", rail="FPS",
                          bank_code="004", account_number="123456789012")
    reviewer = StaffFactory()
    reviewer.user_permissions.add(Permission.objects.get(codename="view_bankaccount"))
    html = _desk(client, reviewer).content.decode()
    assert 'id="desk-cashout"' in html and "Bank accounts waiting for review" in html
    url = reverse("admin:fiat_bankaccount_changelist") + "?status__exact=pending_review"
    assert f'href="{url}">1</a>' in html
    assert "P2P trades in appeal" not in html  # no P2P permission: not shown
