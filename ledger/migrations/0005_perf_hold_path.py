"""Fewer writes per posting (ledger/sql/0005_perf_hold_path.sql): securities posting records become a
view over the legs with the sync state in ledger_securities_sync (existing sync marks carried over),
the leg trigger only moves balances, the per-leg deferred check is skipped for the legs of the entry
just opened, no FK/index on the entry's customer, a BRIN index on the entry date instead of a B-tree,
no (account, id) leg index, fillfactor 70 on accounts."""

from pathlib import Path

import django.contrib.postgres.indexes
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SQL = (SQL_DIR / "0005_perf_hold_path.sql").read_text()


def _function(source: str, name: str) -> str:
    start = source.index(f"CREATE OR REPLACE FUNCTION {name}(")
    return source[start:source.index("END $$;", start) + len("END $$;")]


def _reverse() -> str:
    """Back to 0004: the securities posting table (rebuilt from the legs, sync marks kept), the leg
    trigger that writes it, the per-leg deferred check on every leg, the "<id>:<reference>"
    announcement."""
    f2 = (SQL_DIR / "0002_ledger_functions.sql").read_text()
    f4 = (SQL_DIR / "0004_statement_level_leg_trigger.sql").read_text()
    return "\n".join([
        "ALTER TABLE ledger_account RESET (fillfactor);",
        "CREATE TABLE ledger_securities_posting_old AS SELECT * FROM ledger_securities_posting;",
        "DROP VIEW ledger_securities_posting;",
        """CREATE TABLE ledger_securities_posting (
            leg_id bigint PRIMARY KEY, reference varchar(200) NOT NULL, instrument varchar(40) NOT NULL,
            account_kind varchar(24) NOT NULL, quantity numeric(38, 18) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT statement_timestamp(), synced_at timestamptz NULL,
            currency varchar(12) NOT NULL, customer_id bigint NOT NULL, entry_id bigint NOT NULL,
            synced_by_id integer NULL REFERENCES auth_user(id) DEFERRABLE INITIALLY DEFERRED,
            CONSTRAINT ledger_sec_synced_by_with_at CHECK ((synced_at IS NULL AND synced_by_id IS NULL)
                                                          OR (synced_at IS NOT NULL AND synced_by_id IS NOT NULL)));""",
        "CREATE INDEX ledger_sec_unsynced ON ledger_securities_posting (leg_id) WHERE synced_at IS NULL;",
        """INSERT INTO ledger_securities_posting (leg_id, reference, instrument, account_kind, quantity, created_at,
               synced_at, currency, customer_id, entry_id, synced_by_id)
           SELECT leg_id, reference, instrument, account_kind, quantity, created_at, synced_at, currency,
                  customer_id, entry_id, synced_by_id FROM ledger_securities_posting_old;""",
        "DROP TABLE ledger_securities_posting_old;",
        "DROP TRIGGER ledger_securities_sync_append_only ON ledger_securities_sync;",
        "DROP TRIGGER ledger_leg_balanced ON ledger_leg;",
        "CREATE CONSTRAINT TRIGGER ledger_leg_balanced AFTER INSERT ON ledger_leg"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_leg_balanced();",
        _function(f4, "ledger_legs_apply"),
        _function(f2, "ledger_assert_balanced"),
        _function(f2, "ledger_open_entry"),
        _function(f2, "ledger_post_hold"),
    ])


class Migration(migrations.Migration):

    dependencies = [
        ('chains', '0007_utxo_sync_beat'),
        ('customers', '0001_initial'),
        ('ledger', '0004_statement_level_leg_trigger'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='SecuritiesSync',
            fields=[
                ('leg', models.OneToOneField(db_constraint=False, help_text='The record (= customer-instrument leg) marked synced.', on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='securities_sync', serialize=False, to='ledger.journalleg')),
                ('synced_at', models.DateTimeField(help_text='When staff marked it as booked in the securities account.')),
            ],
            options={
                'db_table': 'ledger_securities_sync',
                'ordering': ['leg_id'],
            },
        ),
        migrations.AlterModelOptions(
            name='securitiesposting',
            options={'managed': False, 'ordering': ['leg_id']},
        ),
        migrations.RemoveIndex(
            model_name='journalleg',
            name='ledger_leg_account_id',
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='created_at',
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), editable=False),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='customer',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text='The customer concerned, if any.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='customers.customer'),
        ),
        migrations.AddIndex(
            model_name='journalentry',
            index=django.contrib.postgres.indexes.BrinIndex(fields=['created_at'], name='ledger_entry_created_brin'),
        ),
        migrations.AddField(
            model_name='securitiessync',
            name='synced_by',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunSQL(SQL, _reverse()),
    ]
