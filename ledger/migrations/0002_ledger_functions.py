"""The ledger's triggers and posting functions (ledger/sql/0002_ledger_functions.sql).

A later change to the SQL goes into a new file and a new migration, so this one stays what it was.
"""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0002_ledger_functions.sql").read_text()

REVERSE_SQL = """
DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_leg_append_only ON ledger_leg;
DROP TRIGGER IF EXISTS ledger_account_no_delete ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_no_direct_update ON ledger_account;
DROP TRIGGER IF EXISTS ledger_leg_apply ON ledger_leg;
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_leg_balanced ON ledger_leg;
DROP FUNCTION IF EXISTS ledger_post_transfer, ledger_post_fee_book, ledger_post_fee_move, ledger_post_settle,
    ledger_post_release, ledger_post_hold, ledger_post_deposit, ledger_split_accounts, ledger_insert_legs,
    ledger_lock, ledger_customer_accounts, ledger_tenant_account, ledger_open_entry, ledger_check_amount,
    ledger_entry_balanced, ledger_leg_balanced, ledger_assert_balanced, ledger_leg_apply, ledger_refuse_change, ledger_raise;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
