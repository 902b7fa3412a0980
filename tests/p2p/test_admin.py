"""Staff side of P2P: the trade page with timeline and both sides' evidence, the appeal queue, the
propose buttons (declared permissions, a fresh second factor), and the decision on atm.p2p.appeal
by someone other than the proposer — two checkers from the flow's threshold."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from approvals.models import WorkOrder
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from ledger.selectors import account_balance, ledger_check
from p2p.models import P2PTrade
from p2p.services import trade_appeal, trade_evidence_add, trade_resolution_propose
from tests.fixtures.factories import StaffFactory
from tests.fixtures.staff import login_verified_staff
from tests.p2p.conftest import proof
from withdrawals_site.roles import role_grant

Status = P2PTrade.Status


def compliance_member():
    user = StaffFactory()
    role_grant(user=user, role="compliance")
    return user


def appealed(market, amount="1000"):
    trade = market.paid(market.take(market.offer(), amount))
    trade = trade_appeal(trade=trade, customer=market.buyer, version=2, reason="Paid, not released",
                         now=timezone.now() + timedelta(minutes=11))
    trade_evidence_add(trade=trade, customer=market.seller, file=proof("statement.png"), note="nothing arrived")
    return trade


def test_the_trade_page_shows_timeline_and_both_sides_evidence(market, client):
    trade = appealed(market)
    login_verified_staff(client, compliance_member())
    page = client.get(f"/admin/p2p/p2ptrade/{trade.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "buyer_paid → in_appeal" in text and "Appealed by the buyer" in text
    assert "nothing arrived" in text and "transfer.png" in text and "statement.png" in text
    evidence = trade.evidence.get(side="seller")
    download = client.get(f"/admin/p2p/p2ptrade/{trade.pk}/evidence/{evidence.pk}/")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert download["Content-Disposition"].startswith("attachment")


def test_the_appeal_queue_lists_trades_in_appeal_only(market, client):
    trade = appealed(market)
    market.take(market.offer(), "500")  # open: not in the queue
    login_verified_staff(client, compliance_member())
    queue = client.get("/admin/p2p/p2pappealitem/")
    assert queue.status_code == 200
    assert list(queue.context["cl"].queryset.values_list("pk", flat=True)) == [trade.pk]


def test_propose_refund_then_another_member_decides_it(market, client):
    trade = appealed(market)
    proposer, checker = compliance_member(), compliance_member()
    login_verified_staff(client, proposer)
    response = client.post("/admin/p2p/p2ptrade/", {"action": "propose_refund", "apply": "1",
                                                    "reason": "The seller's statement shows nothing",
                                                    ACTION_CHECKBOX_NAME: [trade.pk]})
    assert response.status_code == 302
    wo = WorkOrder.objects.get(type="atm.p2p.appeal")
    assert wo.maker == proposer and wo.context["outcome"] == "refund"
    with pytest.raises(DomainError) as own:
        work_order_decide(work_order=wo, actor=proposer, decision="approve")
    assert own.value.code == "maker_cannot_approve"
    work_order_decide(work_order=wo, actor=checker, decision="approve")
    trade.refresh_from_db()
    assert trade.status == Status.RESOLVED_REFUND
    assert account_balance(customer=market.seller, currency="USDT", kind="customer_available",
                           instrument="VA/HAS/USDTHKD") == Decimal("4000")
    assert ledger_check() == []


def test_above_the_threshold_two_checkers_decide_a_release(market):
    trade = appealed(market, amount="6000")  # 46,800 HKD
    from approvals.services.flows import approval_flow_active

    # the default flow, its second-checker threshold lowered below this trade's value (test setup)
    approval_flow_active("atm.p2p.appeal").steps.filter(position=2).update(threshold=Decimal("40000"))
    proposer, first, second = compliance_member(), compliance_member(), compliance_member()
    wo = trade_resolution_propose(trade=trade, actor=proposer, outcome="release", reason="bank record shown")
    work_order_decide(work_order=wo, actor=first, decision="approve")
    trade.refresh_from_db()
    assert trade.status == Status.IN_APPEAL  # one checker is not enough at this value
    work_order_decide(work_order=wo, actor=second, decision="approve")
    trade.refresh_from_db()
    assert trade.status == Status.RESOLVED_RELEASE
    assert account_balance(customer=market.buyer, currency="USDT", kind="customer_available",
                           instrument="VA/HAS/USDTHKD") == Decimal("6000")
    assert ledger_check() == []


def test_a_decision_only_while_in_appeal_and_one_proposal_at_a_time(market):
    trade = market.paid(market.take(market.offer()))
    with pytest.raises(DomainError) as early:
        trade_resolution_propose(trade=trade, actor=compliance_member(), outcome="release", reason="x")
    assert early.value.code == "invalid_transition"
    trade = trade_appeal(trade=trade, customer=market.buyer, version=2, reason="r",
                         now=timezone.now() + timedelta(minutes=11))
    trade_resolution_propose(trade=trade, actor=compliance_member(), outcome="release", reason="x")
    with pytest.raises(DomainError):
        trade_resolution_propose(trade=trade, actor=compliance_member(), outcome="refund", reason="y")


def test_staff_without_the_permission_cannot_propose(market, client):
    trade = appealed(market)
    user = StaffFactory()
    role_grant(user=user, role="ops_maker")
    login_verified_staff(client, user)
    assert client.get("/admin/p2p/p2ptrade/").status_code == 403
    assert not WorkOrder.objects.filter(type="atm.p2p.appeal").exists()
    assert trade.status == Status.IN_APPEAL
