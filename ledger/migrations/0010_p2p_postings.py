"""P2P escrow postings (ledger/sql/0010_p2p_postings.sql): entry kinds p2p_escrow, p2p_release and
p2p_refund, and their posting functions. New functions only; no existing function is redefined."""

from pathlib import Path

from django.db import migrations, models

SQL = (Path(__file__).resolve().parent.parent / "sql" / "0010_p2p_postings.sql").read_text()
DROP = """
DROP FUNCTION IF EXISTS ledger_post_p2p_escrow(bigint, bigint, text, numeric, text, jsonb);
DROP FUNCTION IF EXISTS ledger_post_p2p_release(bigint, bigint, bigint, text, text[], numeric[], text, numeric,
                                                numeric, text, text, jsonb);
DROP FUNCTION IF EXISTS ledger_post_p2p_refund(bigint, bigint, text, text[], numeric[], text, text, jsonb);
DROP FUNCTION IF EXISTS ledger_p2p_exclusive(text, text);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0009_fiat"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_kind_valid"),
        migrations.AlterField(
            model_name="journalentry",
            name="kind",
            field=models.CharField(choices=[
                ("deposit", "Deposit"), ("hold", "Hold (available → held)"),
                ("release", "Release (held → available)"), ("settle", "Settle (held → sub-account, revenue)"),
                ("fee_reserve", "Fee reserve (main → reserved)"), ("fee_release", "Fee release (reserved → main)"),
                ("fee_book", "Fee booked (network fee paid)"), ("main_topup", "Main account top-up"),
                ("sub_to_main", "Sub-account → main account"),
                ("p2p_escrow", "P2P escrow (seller available → held)"),
                ("p2p_release", "P2P release (escrow → buyer, fee → revenue)"),
                ("p2p_refund", "P2P refund (escrow → seller available)")], max_length=16),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(kind__in=["deposit", "hold", "release", "settle", "fee_reserve", "fee_release",
                                             "fee_book", "main_topup", "sub_to_main", "p2p_escrow", "p2p_release",
                                             "p2p_refund"]),
                name="ledger_entry_kind_valid"),
        ),
        migrations.RunSQL(SQL, DROP),
    ]
