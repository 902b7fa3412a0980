"""Deciding a withdrawal work order: maker-checker, N of a group per step, one decision per
person, rejection with a comment, and the withdrawal following the work order."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from approvals.models import WorkOrder, WorkOrderDecision, WorkOrderEvent
from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_cancel, work_order_decide
from core.errors import DomainError
from ledger.selectors import customer_balances, ledger_check
from tests.approvals.conftest import make_flow, staff_in
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange

pytestmark = pytest.mark.django_db
WD = "atm.va.coin_withdraw_apply"


@pytest.fixture
def two_step_flow(db):
    """Step 1: 1 of Ops; step 2: 2 of Compliance (which has 3 members)."""
    return make_flow(WD, [("Operations check", "Ops", 1), ("Compliance review", "Compliance", 2)])


@pytest.fixture
def staff(two_step_flow):
    return {"ops": staff_in("Ops"), "c1": staff_in("Compliance"), "c2": staff_in("Compliance"),
            "c3": staff_in("Compliance"), "outsider": staff_in("Treasury")}


def refused(code, status, call):
    with pytest.raises(DomainError) as info:
        call()
    assert (info.value.code, info.value.status) == (code, status)
    return info.value


def test_two_step_flow_needs_one_then_two_of_three(wallet, staff):
    order = wallet.request()
    wo = work_order_for_subject(order)
    assert (wo.status, wo.current_position, wo.flow.version) == ("open", 1, 2)

    work_order_decide(work_order=wo, actor=staff["ops"], decision="approve")
    wo.refresh_from_db()
    assert wo.current_position == 2
    work_order_decide(work_order=wo, actor=staff["c1"], decision="approve", comment="looks fine")
    wo.refresh_from_db()
    assert (wo.status, wo.current_position) == ("open", 2), "one of two approvals leaves step 2 waiting"
    order.refresh_from_db()
    assert order.status == "pending_approval"

    work_order_decide(work_order=wo, actor=staff["c3"], decision="approve")
    wo.refresh_from_db()
    order.refresh_from_db()
    assert (wo.status, wo.current_position, wo.closed_at is not None) == ("approved", None, True)
    assert order.status == "approved"
    assert [s.state for s in wo.steps.order_by("position")] == ["approved", "approved"]
    assert list(WithdrawalStatusChange.objects.filter(order=order).values_list("to_status", "actor")) == [
        ("pending_approval", wallet.customer.user_id), ("approved", staff["c3"].pk)]


def test_maker_never_approves(wallet, staff):
    order = wallet.request()
    wo = work_order_for_subject(order)
    maker = wallet.customer.user
    maker.is_staff = True
    maker.save()
    maker.groups.add(*staff["ops"].groups.all())  # even as a member of the step's group
    refused("maker_cannot_approve", 403, lambda: work_order_decide(work_order=wo, actor=maker, decision="approve"))
    assert not WorkOrderDecision.objects.exists()


def test_one_person_decides_once_per_work_order(wallet, staff):
    wo = work_order_for_subject(wallet.request())
    both = staff_in("Ops", "Compliance")
    work_order_decide(work_order=wo, actor=both, decision="approve")
    # Same step again, and the next step (where they are also a member): refused both times.
    refused("already_decided", 409, lambda: work_order_decide(work_order=wo, actor=both, decision="approve"))
    wo.refresh_from_db()
    assert wo.current_position == 2
    refused("already_decided", 409, lambda: work_order_decide(work_order=wo, actor=both, decision="reject",
                                                              comment="changed my mind"))
    assert WorkOrderDecision.objects.filter(work_order=wo).count() == 1


def test_only_members_of_the_current_steps_group_decide(wallet, staff):
    wo = work_order_for_subject(wallet.request())
    # A Compliance member cannot act at the Ops step, nor can staff of another group or a superuser.
    superuser = staff_in(username="root")
    superuser.is_superuser = True
    superuser.save()
    for actor in (staff["c1"], staff["outsider"], superuser):
        refused("permission_denied", 403, lambda a=actor: work_order_decide(work_order=wo, actor=a,
                                                                            decision="approve"))
    inactive = staff_in("Ops")
    inactive.is_active = False
    inactive.save()
    refused("permission_denied", 403, lambda: work_order_decide(work_order=wo, actor=inactive, decision="approve"))
    assert not WorkOrderDecision.objects.exists()


def test_reject_needs_a_comment(wallet, staff):
    wo = work_order_for_subject(wallet.request())
    error = refused("validation_error", 400, lambda: work_order_decide(work_order=wo, actor=staff["ops"],
                                                                       decision="reject", comment="  "))
    assert error.field == "comment"
    refused("validation_error", 400, lambda: work_order_decide(work_order=wo, actor=staff["ops"], decision="maybe"))
    wo.refresh_from_db()
    assert wo.status == "open"


def test_rejection_at_step_two_rejects_the_withdrawal_and_releases_exactly_the_hold(wallet, staff):
    before = customer_balances(customer=wallet.customer)
    order = wallet.request(amount="1.2")  # 1.2005 held: 1.0 from ETHUSD, 0.2005 from ETHHKD
    assert [line["instrument"] for line in order.split] == ["VA/HAS/ETHUSD", "VA/HAS/ETHHKD"]
    wo = work_order_for_subject(order)
    work_order_decide(work_order=wo, actor=staff["ops"], decision="approve")
    work_order_decide(work_order=wo, actor=staff["c1"], decision="approve")
    work_order_decide(work_order=wo, actor=staff["c2"], decision="reject", comment="Source of funds unclear")

    wo.refresh_from_db()
    order.refresh_from_db()
    assert (wo.status, wo.reason) == ("rejected", "Source of funds unclear")
    assert order.status == "rejected"
    assert order.history.last().reason == "Source of funds unclear"
    assert [s.state for s in wo.steps.order_by("position")] == ["approved", "rejected"]
    after = customer_balances(customer=wallet.customer)
    assert after == before, "the release gives back exactly what was held, on the same instruments"
    assert ledger_check() == []
    refused("work_order_closed", 409, lambda: work_order_decide(work_order=wo, actor=staff["c3"],
                                                                decision="approve"))


def test_every_decision_and_move_has_its_audit_row(wallet, staff):
    wo = work_order_for_subject(wallet.request())
    work_order_decide(work_order=wo, actor=staff["ops"], decision="approve", comment="ok")
    work_order_decide(work_order=wo, actor=staff["c1"], decision="approve")
    work_order_decide(work_order=wo, actor=staff["c2"], decision="approve")
    events = list(WorkOrderEvent.objects.filter(work_order=wo).values_list(
        "kind", "step_position", "actor", "from_status", "to_status"))
    ops, c1, c2, maker = staff["ops"].pk, staff["c1"].pk, staff["c2"].pk, wallet.customer.user_id
    assert events == [
        ("opened", None, maker, "", "open"),
        ("screened", None, None, "", ""),
        ("step_started", 1, None, "", ""),
        ("decided", 1, ops, "", ""),
        ("step_approved", 1, ops, "", ""),
        ("step_started", 2, None, "", ""),
        ("decided", 2, c1, "", ""),
        ("decided", 2, c2, "", ""),
        ("step_approved", 2, c2, "", ""),
        ("status", None, c2, "open", "approved"),
    ]
    assert WorkOrderEvent.objects.get(work_order=wo, kind="decided", actor=ops).reason == "ok"
    assert list(WorkOrderDecision.objects.filter(work_order=wo).values_list("actor", "decision")) == [
        (ops, "approve"), (c1, "approve"), (c2, "approve")]


def test_decisions_and_events_are_immutable_in_the_database(wallet, staff):
    wo = work_order_for_subject(wallet.request())
    work_order_decide(work_order=wo, actor=staff["ops"], decision="approve")
    decision = WorkOrderDecision.objects.get()
    for statement in (lambda: WorkOrderDecision.objects.filter(pk=decision.pk).update(decision="reject"),
                      lambda: WorkOrderDecision.objects.filter(pk=decision.pk).delete(),
                      lambda: WorkOrderEvent.objects.filter(work_order=wo).update(reason="edited"),
                      lambda: WorkOrderEvent.objects.filter(work_order=wo).delete()):
        with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
            statement()
    assert WorkOrderDecision.objects.get().decision == "approve"


def test_cancelling_the_withdrawal_closes_its_work_order(wallet, staff):
    from withdrawals.services.orders import withdrawal_cancel

    order = wallet.request()
    withdrawal_cancel(order=order, actor=wallet.customer.user)
    wo = work_order_for_subject(order)
    assert (wo.status, wo.reason) == ("cancelled", "Cancelled by the customer")
    assert wo.events.last().to_status == "cancelled"
    assert set(wo.steps.values_list("state", flat=True)) == {"closed"}
    refused("work_order_closed", 409, lambda: work_order_decide(work_order=wo, actor=staff["ops"],
                                                                decision="approve"))
    assert work_order_cancel(subject=order, actor=None, reason="again") is None


def test_one_open_work_order_per_subject_and_type(wallet, staff):
    from approvals.services.work_orders import work_order_open

    order = wallet.request()
    again = work_order_open(type=WD, subject=order, maker=wallet.customer.user)
    assert again == work_order_for_subject(order)
    assert WorkOrder.objects.filter(object_id=order.pk, type=WD).count() == 1
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        WorkOrder.objects.create(type=WD, content_type=again.content_type, object_id=order.pk, flow=again.flow)


def test_work_order_records_the_amount_and_its_values(wallet, staff):
    wo = work_order_for_subject(wallet.request(amount="0.3"))
    assert (wo.amount, wo.currency) == (Decimal("0.3"), "ETH")
    assert wo.context["value_hkd"] == "5850.00" and wo.context["value_usd"] == "750.00"
    assert wo.context["network"] == "ETH" and wo.context["destination"] == wallet.address.address
    assert WithdrawalOrder.objects.get().status == "pending_approval"
