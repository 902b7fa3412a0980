"""The transactional outbox: an event row exactly when the change commits, written by
``event_record`` or by every declared state move, fanned out to the subscriptions that want it."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from events.kinds import event_kinds
from events.models import Event, WebhookDelivery
from events.services import event_record, events_dispatch
from tests.approvals.conftest import make_flow, staff_in
from tests.events.conftest import subscribe
from tests.fixtures.factories import AddressFactory, StaffFactory
from withdrawals.services.addresses import address_revoke

pytestmark = pytest.mark.django_db


def test_event_record_writes_one_row_with_a_uuid_and_dispatches_on_commit(django_capture_on_commit_callbacks):
    address = AddressFactory()
    staff = StaffFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        event = event_record(kind="address.flagged", subject=address, payload={"why": "test"}, actor=staff)
    assert isinstance(event.id, uuid.UUID)
    row = Event.objects.get()
    assert (row.kind, row.subject_type, row.subject_id, row.payload, row.actor) == (
        "address.flagged", "withdrawals.customeraddress", str(address.pk), {"why": "test"}, staff)
    assert row.dispatched_at is None and len(callbacks) == 1  # the dispatch task, after commit


def test_a_kind_that_is_not_a_dotted_name_is_refused():
    with pytest.raises(DomainError) as refused:
        event_record(kind="Not A Kind", payload={})
    assert refused.value.code == "validation_error" and not Event.objects.exists()


def test_a_state_move_is_an_event_in_its_transaction():
    address = AddressFactory()
    staff = StaffFactory()
    address_revoke(address=address, actor=staff, reason="Lost the wallet")
    [event] = Event.objects.all()
    assert event.kind == "address.revoked" and event.actor == staff
    assert event.payload == {"from": "verified", "to": "revoked", "transition": "revoke",
                             "reason": "Lost the wallet"}


def test_a_rolled_back_move_leaves_no_event():
    address = AddressFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        address_revoke(address=address, actor=None, reason="then the caller fails")
        raise RuntimeError("rolled back")
    address.refresh_from_db()
    assert address.status == "verified" and not Event.objects.exists()


def test_bookkeeping_moves_make_no_event():
    from core.transitions import transition_apply
    from tests.core.test_transitions import utxo

    transition_apply(utxo(), "spend", actor=None, reason="Seen spent")
    assert not Event.objects.exists()


def test_a_work_order_decision_and_the_withdrawal_moves_are_events(wallet):
    make_flow("atm.va.coin_withdraw_apply", [("Operations check", "Ops", 1)])
    ops = staff_in("Ops")
    order = wallet.request()
    work_order = work_order_for_subject(order)
    work_order_decide(work_order=work_order, actor=ops, decision="approve", comment="ok")
    kinds = list(Event.objects.order_by("occurred_at", "kind").values_list("kind", flat=True))
    assert {"withdrawal.pending_approval", "work_order.decided", "work_order.approved",
            "withdrawal.approved"} <= set(kinds)
    requested = Event.objects.get(kind="withdrawal.pending_approval")
    assert requested.actor == wallet.customer.user and requested.payload["order_id"] == order.pk
    decided = Event.objects.get(kind="work_order.decided")
    assert decided.actor == ops and decided.payload["decision"] == "approve"
    assert decided.payload["step"] == "Operations check" and decided.subject_id == str(work_order.pk)
    approved = Event.objects.get(kind="withdrawal.approved")
    assert approved.payload["order_id"] == order.pk and Decimal(approved.payload["amount"]) == order.amount


def test_every_state_of_the_order_is_a_known_kind():
    kinds = event_kinds()
    assert {"withdrawal.approved", "withdrawal.completed", "withdrawal.review_required",
            "work_order.decided", "work_order.rejected"} <= set(kinds)
    assert not any(kind.startswith("hotwalletutxo.") for kind in kinds)


def test_dispatch_makes_one_delivery_per_subscription_that_wants_the_kind(local_receiver_settings):
    everything = subscribe("http://127.0.0.1:9/a", kinds=["*"], name="all")
    addresses = subscribe("http://127.0.0.1:9/b", kinds=["address.*"], name="addresses")
    subscribe("http://127.0.0.1:9/c", kinds=["withdrawal.completed"], name="completions")
    event = event_record(kind="address.revoked", subject=AddressFactory(), payload={})
    events_dispatch(event_ids=[event.pk])
    assert set(WebhookDelivery.objects.values_list("subscription", flat=True)) == {everything.pk, addresses.pk}
    event.refresh_from_db()
    assert event.dispatched_at is not None
    events_dispatch(event_ids=[event.pk])  # a second dispatch (the sweep, a redelivered message) adds none
    assert WebhookDelivery.objects.count() == 2
