"""``manage.py ledger_sql [--write]``: print (or write to ledger/sql/current.sql) the live
definition of the ledger's functions and triggers."""

from django.core.management.base import BaseCommand

from ledger.live_sql import CURRENT_SQL, ledger_live_sql


class Command(BaseCommand):
    help = "Print the ledger's functions and triggers as the database holds them (--write: to ledger/sql/current.sql)."

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help="Write ledger/sql/current.sql.")

    def handle(self, *args, write: bool = False, **options):
        sql = ledger_live_sql()
        if write:
            CURRENT_SQL.write_text(sql)
            self.stdout.write(f"Wrote {CURRENT_SQL}")
        else:
            self.stdout.write(sql, ending="")
