"""``manage.py staff_demote_superusers [USERNAME ...]``: take the superuser flag off accounts.

Outside the demo the console refuses to start while an active superuser exists (a superuser
bypasses the roles and the four-eyes flows; withdrawals_site.preflight.check_superusers). Removing
the flag tightens access, so it applies at once (granting it, or any group, waits for a second
person: work order ``atm.staff.access_change``). Without names, every active superuser. The
accounts keep their other flags and groups: give them roles (docs/ROLES.md) where they need them.
"""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from staff.services import staff_superusers_demote


class Command(BaseCommand):
    help = "Remove the superuser flag from the named accounts (all active superusers without names)."

    def add_arguments(self, parser):
        parser.add_argument("usernames", nargs="*", help="Accounts to demote (default: every active superuser).")
        parser.add_argument("--reason", default="", help="Recorded in the account's history.")

    def handle(self, *args, usernames, reason, **options):
        try:
            demoted = staff_superusers_demote(usernames=usernames or None, reason=reason)
        except DomainError as error:
            raise CommandError(error.detail) from None
        if not demoted:
            self.stdout.write("No active superuser.")
            return
        self.stdout.write(f"Demoted (no longer superuser): {', '.join(demoted)}.")
