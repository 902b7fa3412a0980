"""Print a demo customer's current TOTP code (demo and development only: it reads the secret)."""

import pyotp
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from withdrawals.models import TotpDevice
from withdrawals.services.otp import totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of a customer, for trying the App API by hand (DEBUG only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("demo_otp reads a customer's TOTP secret: it only runs with DEBUG on.")
        device = TotpDevice.objects.filter(customer__user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username} has no confirmed TOTP device.")
        self.stdout.write(pyotp.TOTP(totp_secret(device)).now())
