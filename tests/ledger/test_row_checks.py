"""The account and entry rules that are BEFORE INSERT triggers rather than CHECK constraints
(ledger/sql/0013): each refuses what its CHECK refused, with the same check_violation and
constraint name, and their lists stay equal to the model's kinds."""

import re

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import DEBIT_NORMAL_KINDS, Account, AccountKind, EntryKind


def raw(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def function_source(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef(%s::regproc)", [name])
        return cursor.fetchone()[0]


def listed_after(source: str, marker: str) -> set[str]:
    """The quoted words of the first IN (...) list after ``marker``."""
    tail = source[source.index(marker):]
    return set(re.findall(r"'([a-z0-9_]+)'", tail[tail.index("IN ("):tail.index(")")]))


@pytest.mark.django_db
def test_the_triggers_know_exactly_the_models_kinds():
    account = function_source("ledger_account_shape")
    assert listed_after(account, "IF NEW.kind NOT IN") == set(AccountKind.values)
    assert listed_after(account, "NEW.normal_sign := CASE WHEN NEW.kind IN") == set(DEBIT_NORMAL_KINDS)
    assert listed_after(function_source("ledger_entry_shape"), "IF NEW.kind NOT IN") == set(EntryKind.values)


def refused(sql: str, params=None) -> IntegrityError:
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        raw(sql, params)
    return exc.value


@pytest.mark.django_db
@pytest.mark.parametrize(("values", "constraint"), [
    ("(%(t)s, NULL, 'ETH', '', 'piggy_bank', 0)", "ledger_account_kind_valid"),
    ("(%(t)s, NULL, 'ETH', 'VA/HAS/ETHUSD', 'sub_account', 0)", "ledger_account_owner_matches_kind"),
    ("(%(t)s, %(c)s, 'ETH', 'ETHUSD', 'customer_available', 0)", "ledger_account_owner_matches_kind"),
    ("(%(t)s, NULL, 'ETH', '', 'customer_held', 0)", "ledger_account_owner_matches_kind"),
    ("(%(t)s, %(c)s, 'ETH', 'FIAT/HAS/HKD', 'customer_available', 0)", "ledger_account_owner_matches_kind"),
])
def test_an_account_of_the_wrong_shape_is_refused_as_by_its_check(customer, eth, values, constraint):
    exc = refused("INSERT INTO ledger_account (tenant_id, customer_id, currency, instrument, kind, balance) "
                  f"VALUES {values}", {"t": customer.tenant_id, "c": customer.pk})
    assert exc.__cause__.sqlstate == "23514" and exc.__cause__.diag.constraint_name == constraint


@pytest.mark.django_db
def test_normal_sign_comes_from_the_kind_whatever_the_insert_says(customer, eth):
    raw("INSERT INTO ledger_account (tenant_id, customer_id, currency, instrument, kind, balance, normal_sign) "
        "VALUES (%s, NULL, 'ETH', '', 'main_account', 0, -1), (%s, NULL, 'ETH', '', 'fee_revenue', 0, 1)",
        [customer.tenant_id, customer.tenant_id])
    signs = dict(Account.objects.filter(tenant_id=customer.tenant_id, customer=None, currency="ETH",
                                        kind__in=["main_account", "fee_revenue"]).values_list("kind", "normal_sign"))
    assert signs == {"main_account": 1, "fee_revenue": -1}


@pytest.mark.django_db
def test_an_entry_of_an_unknown_kind_is_refused_as_by_its_check(customer, eth):
    exc = refused("INSERT INTO ledger_entry (reference, kind, tenant_id, customer_id, currency, request, memo) "
                  "VALUES ('x:1', 'gift', %s, %s, 'ETH', '{}', '')", [customer.tenant_id, customer.pk])
    assert exc.__cause__.sqlstate == "23514" and exc.__cause__.diag.constraint_name == "ledger_entry_kind_valid"
