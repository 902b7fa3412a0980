"""The races peers' trackers record as real losses, each side on its own PostgreSQL connection,
started at one barrier: exactly one outcome, the escrow paid out at most once, no offer oversold,
the ledger clean."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.models import WorkOrder
from approvals.services.work_orders import work_order_decide
from ledger.models import JournalEntry
from ledger.selectors import account_balance, ledger_check
from p2p.models import P2PTrade
from p2p.services import (
    trade_appeal,
    trade_appeal_overdue,
    trade_expire,
    trade_mark_paid,
    trade_release,
    trade_resolution_propose,
)
from tests.approvals.test_race import run_together
from tests.p2p.conftest import named_customer, proof

pytestmark = pytest.mark.django_db(transaction=True)
Status = P2PTrade.Status


def payouts(trade: P2PTrade) -> list[str]:
    """The entries that paid the trade's escrow out (release or refund): never more than one."""
    return list(JournalEntry.objects.filter(reference__in=[trade.release_reference, trade.refund_reference])
                .values_list("kind", flat=True))


def assert_books(trade: P2PTrade) -> None:
    trade.refresh_from_db()
    paid_out = payouts(trade)
    if trade.status in (Status.RELEASED, Status.RESOLVED_RELEASE):
        assert paid_out == ["p2p_release"]
    elif trade.status in (Status.CANCELLED, Status.EXPIRED, Status.RESOLVED_REFUND):
        assert paid_out == ["p2p_refund"]
    else:
        assert paid_out == []
    assert ledger_check() == []


def paid_trade(market, *, minutes_ago: int) -> P2PTrade:
    return market.paid(market.take(market.offer(), "1000"), minutes_ago=minutes_ago)


def test_the_seller_releases_while_the_buyer_appeals(market):
    trade = paid_trade(market, minutes_ago=11)
    code = market.otp()
    outcomes = run_together(
        release=lambda: trade_release(trade=trade.pk, customer=market.seller, version=2, otp=code),
        appeal=lambda: trade_appeal(trade=trade.pk, customer=market.buyer, version=2, reason="not released"))
    assert sorted(outcomes.values()) == ["ok", "trade_state_changed"], outcomes
    trade.refresh_from_db()
    assert trade.status == (Status.RELEASED if outcomes["release"] == "ok" else Status.IN_APPEAL)
    assert trade.version == 3
    assert_books(trade)


def test_the_expiry_sweep_against_a_paid_mark(market):
    trade = market.take(market.offer(), "1000")
    later = timezone.now() + timedelta(minutes=16)
    swept = {}

    def sweep():
        swept["expired"] = trade_expire(trade=trade.pk, now=later)

    outcomes = run_together(
        sweep=sweep,
        paid=lambda: trade_mark_paid(trade=trade.pk, customer=market.buyer, version=1, payer_name="Chan Tai Man",
                                     payer_account="HSBC 1", proof=proof()))
    assert outcomes["sweep"] == "ok", outcomes
    trade.refresh_from_db()
    if swept["expired"]:
        assert outcomes["paid"] == "trade_state_changed" and trade.status == Status.EXPIRED
    else:
        assert outcomes["paid"] == "ok" and trade.status == Status.BUYER_PAID
    assert_books(trade)
    trade.offer.refresh_from_db()
    assert trade.offer.remaining == (Decimal("6000") if swept["expired"] else Decimal("5000"))


def test_the_release_window_sweep_against_a_release(market):
    trade = paid_trade(market, minutes_ago=61)
    code = market.otp()
    swept = {}

    def sweep():
        swept["appealed"] = trade_appeal_overdue(trade=trade.pk)

    outcomes = run_together(
        sweep=sweep, release=lambda: trade_release(trade=trade.pk, customer=market.seller, version=2, otp=code))
    assert outcomes["sweep"] == "ok", outcomes
    trade.refresh_from_db()
    if swept["appealed"]:
        assert outcomes["release"] == "trade_state_changed" and trade.status == Status.IN_APPEAL
    else:
        assert outcomes["release"] == "ok" and trade.status == Status.RELEASED
    assert_books(trade)


def test_a_refund_decided_while_the_seller_releases(market):
    from tests.approvals.conftest import staff_in

    trade = paid_trade(market, minutes_ago=11)
    trade = trade_appeal(trade=trade, customer=market.buyer, version=2, reason="paid, nothing happens")
    maker, checker = staff_in("Compliance"), staff_in("Compliance")
    wo = trade_resolution_propose(trade=trade, actor=maker, outcome="refund", reason="no money arrived")
    code = market.otp()
    outcomes = run_together(
        refund=lambda: work_order_decide(work_order=wo.pk, actor=checker, decision="approve"),
        release=lambda: trade_release(trade=trade.pk, customer=market.seller, version=3, otp=code))
    trade.refresh_from_db()
    wo.refresh_from_db()
    if outcomes["release"] == "ok":
        assert outcomes["refund"] == "work_order_closed", outcomes
        assert trade.status == Status.RELEASED and wo.status == WorkOrder.Status.CANCELLED
    else:
        assert outcomes == {"refund": "ok", "release": "trade_state_changed"}, outcomes
        assert trade.status == Status.RESOLVED_REFUND and wo.status == WorkOrder.Status.APPROVED
    assert_books(trade)


@pytest.mark.parametrize("buyers", [2, 4])
def test_buyers_taking_an_offers_remainder_at_once(market, buyers):
    offer = market.offer(total_amount="1000", max_trade="1000", min_trade="600")
    people = [named_customer(f"Buyer{i}", "Wong") for i in range(buyers)]
    outcomes = run_together(**{f"b{i}": (lambda c=c: market.take(offer, "1000", buyer=c))
                               for i, c in enumerate(people)})
    assert sorted(outcomes.values()) == ["offer_unavailable"] * (buyers - 1) + ["ok"], outcomes
    offer.refresh_from_db()
    assert offer.remaining == 0
    trade = P2PTrade.objects.get()
    assert JournalEntry.objects.filter(kind="p2p_escrow").count() == 1
    assert account_balance(customer=market.seller, currency="USDT", kind="customer_held",
                           instrument="VA/HAS/USDTHKD") == trade.escrow_amount
    assert ledger_check() == []
