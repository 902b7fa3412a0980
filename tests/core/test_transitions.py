"""The one transition recipe (core.transitions): declared moves only, no-op when already there,
an audit row per move with actor and reason, protected fields that only the recipe moves."""

import pytest
from django.db import transaction

from core.errors import DomainError
from core.transitions import locked, transition_apply, transition_apply_all
from tests.fixtures.factories import StaffFactory, btc_network
from withdrawals.models import HotWalletUtxo, HotWalletUtxoStatusChange

pytestmark = pytest.mark.django_db


def utxo(vout: int = 0, **kwargs) -> HotWalletUtxo:
    return HotWalletUtxo.objects.create(network=btc_network(), address="bcrt1qhot", txid="ab" * 32, vout=vout,
                                        value_sat=10_000, script_pubkey="0014" + "00" * 20, **kwargs)


def test_a_declared_move_saves_the_row_and_writes_its_audit_row():
    staff = StaffFactory()
    row = utxo()
    with transaction.atomic():
        row = locked(HotWalletUtxo, row.pk)
        assert transition_apply(row, "spend", actor=staff, reason="Seen spent") is True
    row.refresh_from_db()
    assert row.status == "spent"
    [audit] = HotWalletUtxoStatusChange.objects.filter(utxo=row)
    assert (audit.from_status, audit.to_status, audit.actor, audit.reason) == ("available", "spent", staff,
                                                                             "Seen spent")


def test_a_move_to_where_the_row_already_is_changes_nothing():
    row = utxo(status="dropped")
    dropped_again = HotWalletUtxo.objects.get(pk=row.pk)
    assert transition_apply(dropped_again, "drop", actor=None, reason="again") is False
    assert not HotWalletUtxoStatusChange.objects.exists()


def test_an_undeclared_move_is_refused_and_writes_nothing():
    row = utxo(status="dropped")
    with pytest.raises(DomainError) as refused:
        transition_apply(row, "release", actor=None, reason="no")
    assert refused.value.code == "invalid_transition" and refused.value.status == 409
    row.refresh_from_db()
    assert row.status == "dropped" and not HotWalletUtxoStatusChange.objects.exists()


def test_the_state_field_cannot_be_assigned_directly():
    row = utxo()
    with pytest.raises(AttributeError):
        row.status = "spent"


def test_many_rows_move_in_one_update_with_one_audit_row_each():
    rows = [utxo(vout=n) for n in range(3)]
    spent_already = utxo(vout=9, status="pending")
    assert transition_apply_all(rows, "spend", actor=None, reason="Gone from the node") == 3
    assert set(HotWalletUtxo.objects.filter(status="spent").values_list("vout", flat=True)) == {0, 1, 2}
    assert HotWalletUtxoStatusChange.objects.count() == 3
    with pytest.raises(DomainError):  # one row that cannot move refuses them all
        transition_apply_all([utxo(vout=5), spent_already], "spend", actor=None, reason="x")
