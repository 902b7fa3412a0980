"""``manage.py ledger_check``: verifies the ledger; exits 1 and names every problem found."""

from django.core.management.base import BaseCommand, CommandError

from ledger.selectors import ledger_check


class Command(BaseCommand):
    help = ("Verify the ledger: every entry sums to zero per currency, stored balances equal the sum of "
            "their legs, no account is overdrawn where that is forbidden, every entry's customer exists, every "
            "securities sync mark names a customer-instrument leg. Exits non-zero and lists the problems.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=100, help="Name at most this many problems of each sort.")

    def handle(self, *args, limit: int = 100, **options):
        problems = ledger_check(limit=limit)
        if problems:
            for problem in problems:
                self.stderr.write(f"- {problem}")
            raise CommandError(f"ledger_check: {len(problems)} problem(s) found.", returncode=1)
        self.stdout.write(self.style.SUCCESS("ledger_check: healthy (entries balanced, balances = sum of legs, "
                                             "no forbidden negatives, securities sync marks consistent)."))
