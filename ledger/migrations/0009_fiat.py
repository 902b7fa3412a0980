"""Cash-out to fiat in the ledger (docs/FIAT.md): fiat currencies HKD and USD, customer fiat positions\n(FIAT/<venue>/<currency>), the tenant's client-money bank account, fiat in transit, bank charges and\ncrypto inventory, the new entry kinds and their posting functions (ledger/sql/0009_fiat.sql)."""

from pathlib import Path

from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SQL = (SQL_DIR / "0009_fiat.sql").read_text()
_V5 = (SQL_DIR / "0005_perf_hold_path.sql").read_text()
VIEW = _V5[_V5.index("CREATE VIEW ledger_securities_posting AS"):_V5.index("ON s.leg_id = l.id;") + len("ON s.leg_id = l.id;")]


def _normal_sign(kinds: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{k}'" for k in kinds)
    return f"""
DROP VIEW ledger_securities_posting;
ALTER TABLE ledger_account DROP COLUMN normal_sign;
ALTER TABLE ledger_account ADD COLUMN normal_sign smallint
    GENERATED ALWAYS AS (CASE WHEN kind IN ({listed}) THEN 1 ELSE -1 END) STORED NOT NULL;
{VIEW}
"""


OLD_DEBIT_NORMAL = ("sub_account", "main_account", "main_reserved", "network_fee_expense")
NORMAL_SIGN_SQL = _normal_sign(OLD_DEBIT_NORMAL + ("client_money_bank", "bank_charges"))
NORMAL_SIGN_REVERSE = _normal_sign(OLD_DEBIT_NORMAL)

FUNCTIONS = ("ledger_post_sell(bigint, bigint, text, numeric, text, numeric, text, jsonb)",
             "ledger_post_fiat_send(bigint, bigint, text, text[], numeric[], numeric, text, jsonb)",
             "ledger_post_fiat_settle(bigint, bigint, text, numeric, text, jsonb)",
             "ledger_post_fiat_return(bigint, bigint, text, text, numeric, numeric, text, jsonb)",
             "ledger_post_bank_charge(bigint, text, numeric, text, jsonb)")
REVERSE_SQL = "".join(f"DROP FUNCTION IF EXISTS {f};\n" for f in FUNCTIONS)


def fiat_currencies(apps, schema_editor):
    """HKD and USD (2 decimals) as ledger currencies."""
    Currency = apps.get_model("chains", "Currency")
    for code, name in (("HKD", "Hong Kong dollar"), ("USD", "US dollar")):
        Currency.objects.get_or_create(code=code, defaults={"name": name, "decimals": 2})


class Migration(migrations.Migration):

    dependencies = [
        ('chains', '0013_history_after_merge'),
        ('customers', '0004_kyc_legal_name_country'),
        ('ledger', '0008_leg_account_index'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='account',
            name='ledger_account_owner_matches_kind',
        ),
        migrations.RemoveConstraint(
            model_name='account',
            name='ledger_account_kind_valid',
        ),
        migrations.RemoveConstraint(
            model_name='journalentry',
            name='ledger_entry_kind_valid',
        ),
        migrations.AlterField(
            model_name='account',
            name='instrument',
            field=models.CharField(blank=True, help_text='Securities instrument VA/<VENUE>/<CURRENCY><QUOTE>, e.g. VA/HAS/ETHUSD, or a fiat cash position FIAT/<VENUE>/<CURRENCY>; customer accounts only, empty for tenant accounts.', max_length=40),
        ),
        migrations.AlterField(
            model_name='account',
            name='kind',
            field=models.CharField(choices=[('customer_available', 'Customer available'), ('customer_held', 'Customer held'), ('sub_account', 'Tenant sub-account'), ('main_account', 'Tenant main account'), ('main_reserved', 'Main account reserved'), ('network_fee_expense', 'Network fees (expense)'), ('fee_revenue', 'Withdrawal fee revenue'), ('external', 'External (outside world)'), ('main_shortfall', 'Main account fee shortfall'), ('client_money_bank', 'Client-money bank account (fiat)'), ('fiat_in_transit', 'Fiat in transit (payment file sent, not yet on the statement)'), ('bank_charges', 'Bank charges (expense)'), ('crypto_inventory', 'Tenant crypto inventory (bought from customers)')], max_length=24),
        ),
        # PostgreSQL 15 cannot change a generated column's expression: the column is dropped and
        # added again (the securities-posting view that reads it is re-created as 0005 made it).
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(NORMAL_SIGN_SQL, NORMAL_SIGN_REVERSE)],
            state_operations=[
            migrations.AlterField(
                model_name='account',
                name='normal_sign',
                field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(kind__in=('sub_account', 'main_account', 'main_reserved', 'network_fee_expense', 'client_money_bank', 'bank_charges'), then=models.Value(1)), default=models.Value(-1)), help_text='+1: debit-normal (tenant assets, expense); -1: credit-normal (owed to customers, revenue, outside world). balance = normal_sign × sum of legs.', output_field=models.SmallIntegerField()),
            ),
            ],
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='kind',
            field=models.CharField(choices=[('deposit', 'Deposit'), ('hold', 'Hold (available → held)'), ('release', 'Release (held → available)'), ('settle', 'Settle (held → sub-account, revenue)'), ('fee_reserve', 'Fee reserve (main → reserved)'), ('fee_release', 'Fee release (reserved → main)'), ('fee_book', 'Fee booked (network fee paid)'), ('main_topup', 'Main account top-up'), ('sub_to_main', 'Sub-account → main account'), ('sell', 'Sell (crypto → inventory, fiat → customer)'), ('fiat_send', 'Fiat payment sent (held → in transit, fee)'), ('fiat_settle', 'Fiat payment on the statement (in transit → bank)'), ('fiat_return', 'Fiat payment returned (in transit → available, less charge)'), ('bank_charge', 'Bank charge on the statement')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('customer__isnull', False), ('instrument__regex', '^VA/[A-Z0-9]{2,10}/[A-Z0-9]+[A-Z]{3}$'), ('kind__in', ('customer_available', 'customer_held'))), models.Q(('currency__in', ('HKD', 'USD')), ('customer__isnull', False), ('instrument__regex', '^FIAT/[A-Z0-9]{2,10}/[A-Z]{3}$'), ('kind__in', ('customer_available', 'customer_held'))), models.Q(models.Q(('kind__in', ('customer_available', 'customer_held')), _negated=True), ('customer__isnull', True), ('instrument', '')), _connector='OR'), name='ledger_account_owner_matches_kind'),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['customer_available', 'customer_held', 'sub_account', 'main_account', 'main_reserved', 'network_fee_expense', 'fee_revenue', 'external', 'main_shortfall', 'client_money_bank', 'fiat_in_transit', 'bank_charges', 'crypto_inventory'])), name='ledger_account_kind_valid'),
        ),
        migrations.AddConstraint(
            model_name='journalentry',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['deposit', 'hold', 'release', 'settle', 'fee_reserve', 'fee_release', 'fee_book', 'main_topup', 'sub_to_main', 'sell', 'fiat_send', 'fiat_settle', 'fiat_return', 'bank_charge'])), name='ledger_entry_kind_valid'),
        ),
        migrations.RunPython(fiat_currencies, migrations.RunPython.noop),
        migrations.RunSQL(SQL, REVERSE_SQL),
    ]
