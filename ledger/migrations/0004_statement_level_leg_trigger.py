"""Legs applied by one statement-level trigger per INSERT (ledger/sql/0004_statement_level_leg_trigger.sql)."""

from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SQL = (SQL_DIR / "0004_statement_level_leg_trigger.sql").read_text()


def _previous() -> str:
    """0002's row-level leg trigger and leg-level check, to go back to."""
    source = (SQL_DIR / "0002_ledger_functions.sql").read_text()
    start = source.index("CREATE OR REPLACE FUNCTION ledger_leg_apply()")
    end = source.index("FOR EACH ROW EXECUTE FUNCTION ledger_leg_apply();") + len(
        "FOR EACH ROW EXECUTE FUNCTION ledger_leg_apply();")
    check = source.index("CREATE OR REPLACE FUNCTION ledger_leg_balanced()")
    check_end = source.index("END $$;", check) + len("END $$;")
    return ("DROP TRIGGER IF EXISTS ledger_legs_apply ON ledger_leg;\nDROP FUNCTION IF EXISTS ledger_legs_apply();\n"
            + source[start:end] + "\n" + source[check:check_end])


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_entry_reference_constraint")]

    operations = [migrations.RunSQL(SQL, _previous())]
