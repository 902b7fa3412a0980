"""Batched postings (ledger/sql/0007_batch_postings.sql): ledger_post_settle_batch and
ledger_post_deposit_batch post many entries in one call and one commit, through the shared
ledger_insert_batch (entries opened with the usual idempotency, accounts locked in id order, the
batch's net change checked, all legs in one statement so each account's balance moves once; the per-leg deferred check is
not queued for that statement's legs, whose entries' own checks cover them)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0007_batch_postings.sql").read_text()

REVERSE_SQL = """
DROP TRIGGER ledger_leg_balanced ON ledger_leg;
CREATE CONSTRAINT TRIGGER ledger_leg_balanced AFTER INSERT ON ledger_leg
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.entry_id::text IS DISTINCT FROM current_setting('ledger.open_entry', true))
    EXECUTE FUNCTION ledger_leg_balanced();
DROP FUNCTION IF EXISTS ledger_post_deposit_batch(jsonb);
DROP FUNCTION IF EXISTS ledger_post_settle_batch(jsonb);
DROP FUNCTION IF EXISTS ledger_insert_batch(text, text[], bigint[], bigint[], text[], jsonb[], text[], text[], bigint[],
                                            numeric[]);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0006_action_permissions"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
