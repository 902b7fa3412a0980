"""ledger/sql/current.sql is the live definition of every ledger function and trigger."""

from ledger.live_sql import CURRENT_SQL, ledger_live_sql


def test_current_sql_equals_what_the_migrations_leave_in_the_database(db):
    assert CURRENT_SQL.read_text() == ledger_live_sql(), (
        "ledger/sql/current.sql is stale: run `manage.py ledger_sql --write` after the migration")


def test_current_sql_holds_every_posting_function_and_the_append_only_triggers(db):
    sql = CURRENT_SQL.read_text()
    for name in ("ledger_post_hold", "ledger_post_release", "ledger_post_settle", "ledger_post_deposit",
                 "ledger_entry_append_only", "ledger_leg_append_only", "ledger_entry_balanced"):
        assert name in sql
