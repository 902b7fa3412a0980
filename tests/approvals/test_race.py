"""Concurrent approvals at the last step, each on its own connection: exactly one transition
to approved, one ledger booking, and the late approver is told the work order is closed."""

import threading
from decimal import Decimal
from functools import partial

import pytest
from django.db import connections

from approvals.models import FeeReserveRequest, WorkOrder, WorkOrderDecision, WorkOrderEvent
from approvals.selectors import work_order_for_subject
from approvals.services.fee_reserve import fee_reserve_request_create
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from ledger.models import JournalEntry
from tests.approvals.conftest import make_flow, staff_in
from tests.fixtures.factories import CurrencyFactory, TenantFactory


def decide_concurrently(work_order_id: int, actors) -> list:
    barrier = threading.Barrier(len(actors))
    results = [None] * len(actors)

    def run(i, actor):
        try:
            barrier.wait(timeout=10)
            work_order_decide(work_order=work_order_id, actor=actor, decision="approve")
            results[i] = "ok"
        except DomainError as error:
            results[i] = error.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def run_together(**calls) -> dict:
    """Start the calls at the same moment, each on its own thread and connection; their outcomes
    ("ok", a DomainError code, or the repr of anything else, e.g. a deadlock)."""
    barrier = threading.Barrier(len(calls))
    outcomes = {}

    def run(name, call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[name] = "ok"
        except DomainError as error:
            outcomes[name] = error.code
        except Exception as error:  # noqa: BLE001
            outcomes[name] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("needed", [1, 2])
def test_concurrent_last_approvals_move_to_approved_exactly_once(needed):
    CurrencyFactory(code="ETH", decimals=18)
    make_flow("atm.va.main_account_topup", [("Treasury", "Treasury", needed)])
    maker = staff_in("Treasury")
    approvers = [staff_in("Treasury") for _ in range(needed + 1)]
    request = fee_reserve_request_create(tenant=TenantFactory(), currency="ETH", amount=Decimal("1"),
                                         kind="main_topup", actor=maker)
    wo = work_order_for_subject(request)

    results = decide_concurrently(wo.pk, approvers)

    assert sorted(results) == ["ok"] * needed + ["work_order_closed"]
    assert WorkOrder.objects.get(pk=wo.pk).status == "approved"
    assert WorkOrderDecision.objects.filter(work_order=wo).count() == needed
    assert WorkOrderEvent.objects.filter(work_order=wo, kind="status", to_status="approved").count() == 1
    assert FeeReserveRequest.objects.get(pk=request.pk).status == "approved"
    assert JournalEntry.objects.filter(reference=request.reference).count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_and_final_approval_together_do_not_deadlock():
    """The subject's cancel locks subject then work order; a decision does the same."""
    from approvals.services.fee_reserve import fee_reserve_request_cancel

    CurrencyFactory(code="ETH", decimals=18)
    make_flow("atm.va.main_account_topup", [("Treasury", "Treasury", 1)])
    maker, approver = staff_in("Treasury"), staff_in("Treasury")
    for _ in range(3):
        request = fee_reserve_request_create(tenant=TenantFactory(), currency="ETH", amount=Decimal("1"),
                                             kind="main_topup", actor=maker)
        wo = work_order_for_subject(request)
        outcomes = run_together(
            decide=partial(work_order_decide, work_order=wo.pk, actor=approver, decision="approve"),
            cancel=partial(fee_reserve_request_cancel, request=request, actor=maker, reason="withdrawn"))
        final = FeeReserveRequest.objects.get(pk=request.pk).status
        if final == "approved":
            assert outcomes == {"decide": "ok", "cancel": "invalid_transition"}
            assert WorkOrder.objects.get(pk=wo.pk).status == "approved"
        else:
            assert final == "cancelled"
            assert outcomes == {"decide": "work_order_closed", "cancel": "ok"}
            assert WorkOrder.objects.get(pk=wo.pk).status == "cancelled"
