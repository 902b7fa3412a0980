"""What the database itself refuses: edits of the journal, unbalanced entries, balances that do
not come from legs, overdrafts. Raw SQL on purpose: these hold whatever code runs."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import Account, JournalEntry, JournalLeg
from ledger.selectors import ledger_check
from ledger.services import ledger_hold


def raw(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def sqlstate(exc: Exception) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_leg SET amount = amount * 2",
    "DELETE FROM ledger_leg",
    "UPDATE ledger_entry SET memo = 'edited'",
    "DELETE FROM ledger_entry",
    "UPDATE ledger_account SET balance = balance + 1",
    "DELETE FROM ledger_account",
])
def test_the_journal_and_accounts_refuse_updates_and_deletes(funded, sql):
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        raw(sql)
    assert sqlstate(exc.value) == "23L05"
    assert "append-only" in str(exc.value)


def test_the_orm_cannot_edit_a_leg_either(funded):
    leg = JournalLeg.objects.first()
    leg.amount = Decimal("100")
    with pytest.raises(IntegrityError), transaction.atomic():
        leg.save()


def _unbalanced_entry(customer, account_id: int, amounts: list[str]) -> None:
    raw("INSERT INTO ledger_entry (reference, kind, tenant_id, customer_id, currency, request, memo) "
        "VALUES ('raw-1', 'deposit', %s, %s, 'ETH', '{}', '')", [customer.tenant_id, customer.pk])
    entry_id = JournalEntry.objects.get(reference="raw-1").pk
    for amount in amounts:
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) VALUES (%s, %s, 'ETH', %s)",
            [entry_id, account_id, amount])


def test_unbalanced_legs_fail_when_the_constraints_are_checked(funded):
    account = Account.objects.get(customer=funded, kind="customer_available", instrument="VA/HAS/ETHUSD")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _unbalanced_entry(funded, account.pk, ["0.1"])   # the insert itself is accepted ...
        raw("SET CONSTRAINTS ALL IMMEDIATE")             # ... the check fires at commit (forced here)
    assert sqlstate(exc.value) == "23L06"


def test_an_entry_without_legs_is_refused(funded):
    with pytest.raises(IntegrityError), transaction.atomic():
        _unbalanced_entry(funded, 0, [])
        raw("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_leg_added_to_an_entry_already_checked_is_checked_again(funded):
    account = Account.objects.get(customer=funded, kind="customer_available", instrument="VA/HAS/ETHUSD")
    sub = Account.objects.get(tenant=funded.tenant, kind="sub_account")
    with pytest.raises(IntegrityError), transaction.atomic():
        _unbalanced_entry(funded, account.pk, ["-0.1"])
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) "
            "SELECT id, %s, 'ETH', 0.1 FROM ledger_entry WHERE reference = 'raw-1'", [sub.pk])
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # balanced: passes
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) "
            "SELECT id, %s, 'ETH', 0.5 FROM ledger_entry WHERE reference = 'raw-1'", [sub.pk])
        raw("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_leg_in_another_currency_than_its_account_is_refused(funded, btc):
    account = Account.objects.get(customer=funded, kind="customer_available", instrument="VA/HAS/ETHUSD")
    entry = JournalEntry.objects.first()
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) VALUES (%s, %s, 'BTC', 1)",
            [entry.pk, account.pk])
    assert sqlstate(exc.value) == "23L07"


def test_an_overdraft_is_refused_by_the_check_constraint(funded):
    account = Account.objects.get(customer=funded, kind="customer_available", instrument="VA/HAS/ETHUSD")
    held = Account.objects.get(customer=funded, kind="customer_held", instrument="VA/HAS/ETHUSD")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        _unbalanced_entry(funded, account.pk, ["5"])  # debit 5 from an available balance of 1
    assert "ledger_account_not_overdrawn" in str(exc.value)
    assert held.balance == 0


@pytest.mark.django_db(transaction=True)
def test_unbalanced_legs_fail_at_a_real_commit(customer, eth):
    from ledger.services import ledger_deposit

    ledger_deposit(customer=customer, currency=eth, quote="USD", amount=Decimal("1"), reference="d")
    account = Account.objects.get(customer=customer, kind="customer_available")
    with pytest.raises(IntegrityError) as exc:
        with transaction.atomic():
            _unbalanced_entry(customer, account.pk, ["-0.25"])
    assert sqlstate(exc.value) == "23L06"
    assert not JournalEntry.objects.filter(reference="raw-1").exists()
    assert Account.objects.get(pk=account.pk).balance == Decimal("1")
    assert ledger_check() == []


def test_ledger_check_names_what_is_wrong(funded, eth):
    ledger_hold(customer=funded, currency=eth, amount=Decimal("0.5"), reference="h")
    assert ledger_check() == []
    # Simulate corruption the guards would refuse: triggers off (superuser, replica role) and the
    # CHECK constraint dropped, inside the test's transaction (rolled back afterwards).
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # fire the pending deferred checks first (ALTER needs none pending)
    raw("ALTER TABLE ledger_account DROP CONSTRAINT ledger_account_not_overdrawn")
    raw("SET LOCAL session_replication_role = replica")
    raw("UPDATE ledger_leg SET amount = amount + 0.01 WHERE id = (SELECT min(id) FROM ledger_leg)")
    raw("UPDATE ledger_account SET balance = -1 WHERE kind = 'main_account' OR id = "
        "(SELECT min(id) FROM ledger_account WHERE kind = 'customer_held')")
    raw("SET LOCAL session_replication_role = origin")
    raw("INSERT INTO ledger_securities_sync (leg_id, synced_at, synced_by_id) SELECT l.id, now(), %s "
        "FROM ledger_leg l JOIN ledger_account a ON a.id = l.account_id WHERE a.kind = 'sub_account' LIMIT 1",
        [funded.user_id])

    problems = ledger_check()
    text = "\n".join(problems)
    assert "legs sum to 0.01, not 0" in text
    assert "stored balance" in text
    assert "is overdrawn: -1" in text
    assert "the whole book sums to 0.01" in text
    assert "names no securities posting record" in text


def test_a_leg_added_to_a_posted_entry_after_its_check_is_checked_again(funded, eth):
    """The legs of the entry a posting function opens skip the per-leg deferred check (the entry's
    own check covers them); once that check has run, a further leg is checked on its own."""
    sub = Account.objects.get(tenant=funded.tenant, kind="sub_account")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        ledger_hold(customer=funded, currency=eth, amount=Decimal("0.1"), reference="h-then-raw")
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # the hold's entry is checked (balanced)
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) "
            "SELECT id, %s, 'ETH', 0.5 FROM ledger_entry WHERE reference = 'h-then-raw'", [sub.pk])
        raw("SET CONSTRAINTS ALL IMMEDIATE")
    assert sqlstate(exc.value) == "23L06"


def test_a_raw_leg_added_to_a_posted_entry_before_commit_is_covered_by_its_check(funded, eth):
    sub = Account.objects.get(tenant=funded.tenant, kind="sub_account")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        ledger_hold(customer=funded, currency=eth, amount=Decimal("0.1"), reference="h-and-raw")
        raw("INSERT INTO ledger_leg (entry_id, account_id, currency, amount) "
            "SELECT id, %s, 'ETH', 0.5 FROM ledger_entry WHERE reference = 'h-and-raw'", [sub.pk])
        raw("SET CONSTRAINTS ALL IMMEDIATE")
    assert sqlstate(exc.value) == "23L06"


@pytest.mark.parametrize("sql", ["UPDATE ledger_securities_sync SET synced_at = now()",
                                 "DELETE FROM ledger_securities_sync"])
def test_securities_sync_marks_are_final(funded, sql):
    from ledger.services import securities_mark_synced
    from tests.fixtures.factories import StaffFactory

    assert securities_mark_synced(record_ids=[JournalLeg.objects.filter(account__customer=funded).first().pk],
                                  actor=StaffFactory()) == 1
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        raw(sql)
    assert sqlstate(exc.value) == "23L05"
