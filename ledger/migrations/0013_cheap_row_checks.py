"""Cheaper row checks on the posting path (ledger/sql/0013_cheap_row_checks.sql): the account's
owner/kind rule, its kind list and the entry's kind list become BEFORE INSERT triggers raising the
same check_violation; normal_sign becomes a plain column the account trigger writes; the hold opens
its entry and checks its amount in one statement."""

from pathlib import Path

from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SQL = (SQL_DIR / "0013_cheap_row_checks.sql").read_text()
_V5 = (SQL_DIR / "0005_perf_hold_path.sql").read_text()
_HOLD_BEFORE = _V5[_V5.index("CREATE OR REPLACE FUNCTION ledger_post_hold("):]
_HOLD_BEFORE = _HOLD_BEFORE[:_HOLD_BEFORE.index("END $$;") + len("END $$;")]

ACCOUNT_KINDS = ("customer_available", "customer_held", "sub_account", "main_account", "main_reserved",
                 "network_fee_expense", "fee_revenue", "external", "main_shortfall", "client_money_bank",
                 "fiat_in_transit", "bank_charges", "crypto_inventory")
ENTRY_KINDS = ("deposit", "hold", "release", "settle", "fee_reserve", "fee_release", "fee_book", "main_topup",
               "sub_to_main", "sell", "fiat_send", "fiat_settle", "fiat_return", "bank_charge", "p2p_escrow",
               "p2p_release", "p2p_refund")
DEBIT_NORMAL = ("sub_account", "main_account", "main_reserved", "network_fee_expense", "client_money_bank",
                "bank_charges")


def _listed(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


REVERSE_SQL = f"""
DROP TRIGGER ledger_account_shape ON ledger_account;
DROP TRIGGER ledger_entry_shape ON ledger_entry;
DROP FUNCTION ledger_account_shape();
DROP FUNCTION ledger_entry_shape();
{_HOLD_BEFORE}
DROP VIEW ledger_securities_posting;
ALTER TABLE ledger_account DROP COLUMN normal_sign;
ALTER TABLE ledger_account ADD COLUMN normal_sign smallint
    GENERATED ALWAYS AS (CASE WHEN kind IN ({_listed(DEBIT_NORMAL)}) THEN 1 ELSE -1 END) STORED NOT NULL;
{_V5[_V5.index("CREATE VIEW ledger_securities_posting AS"):_V5.index("ON s.leg_id = l.id;") + len("ON s.leg_id = l.id;")]}
ALTER TABLE ledger_account ADD CONSTRAINT ledger_account_kind_valid CHECK (kind IN ({_listed(ACCOUNT_KINDS)}));
ALTER TABLE ledger_account ADD CONSTRAINT ledger_account_owner_matches_kind CHECK (
    (kind IN ('customer_available', 'customer_held') AND customer_id IS NOT NULL
     AND instrument ~ '^VA/[A-Z0-9]{{2,10}}/[A-Z0-9]+[A-Z]{{3}}$')
    OR (kind IN ('customer_available', 'customer_held') AND customer_id IS NOT NULL AND currency IN ('HKD', 'USD')
        AND instrument ~ '^FIAT/[A-Z0-9]{{2,10}}/[A-Z]{{3}}$')
    OR (kind NOT IN ('customer_available', 'customer_held') AND customer_id IS NULL AND instrument = ''));
ALTER TABLE ledger_entry ADD CONSTRAINT ledger_entry_kind_valid CHECK (kind IN ({_listed(ENTRY_KINDS)}));
"""


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0012_fee_book_batch"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(SQL, REVERSE_SQL)],
            state_operations=[
                migrations.RemoveConstraint(model_name="account", name="ledger_account_owner_matches_kind"),
                migrations.RemoveConstraint(model_name="account", name="ledger_account_kind_valid"),
                migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_kind_valid"),
                migrations.RemoveField(model_name="account", name="normal_sign"),
                migrations.AddField(
                    model_name="account",
                    name="normal_sign",
                    field=models.SmallIntegerField(
                        editable=False,
                        help_text="+1: debit-normal (tenant assets, expense); -1: credit-normal (owed to "
                                  "customers, revenue, outside world). balance = normal_sign × sum of legs. "
                                  "Written from the kind by the database (trigger ledger_account_shape)."),
                ),
            ],
        ),
    ]
