"""Decisions and work-order events are append-only: PostgreSQL refuses UPDATE and DELETE."""

from django.db import migrations

TABLES = ("approvals_workorderdecision", "approvals_workorderevent", "approvals_travelrulerecord")

FUNCTION = """
CREATE OR REPLACE FUNCTION approvals_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable (append-only): % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def _create():
    sql = [FUNCTION]
    for table in TABLES:
        sql.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION approvals_refuse_change();"
        )
        # TRUNCATE is what the test runner's flush uses; it stays allowed.
    return "\n".join(sql)


def _drop():
    sql = [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in TABLES]
    sql.append("DROP FUNCTION IF EXISTS approvals_refuse_change();")
    return "\n".join(sql)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]

    operations = [migrations.RunSQL(_create(), _drop())]
