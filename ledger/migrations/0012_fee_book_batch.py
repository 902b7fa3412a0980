"""Batched fee bookings (ledger/sql/0012_fee_book_batch.sql): ledger_post_fee_book_batch books
many network fees in one call, each as ledger_post_fee_book would (the sweep's completions)."""

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0012_fee_book_batch.sql").read_text()

REVERSE_SQL = "DROP FUNCTION IF EXISTS ledger_post_fee_book_batch(jsonb);"


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0011_entry_kinds_after_cashout"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
