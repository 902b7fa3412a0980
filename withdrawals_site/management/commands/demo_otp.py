"""Print a demo user's current TOTP code, customer or staff (demo and development only: it reads the secret)."""

import pyotp
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from withdrawals.models import TotpDevice
from withdrawals.services.otp import totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of a customer (App API) or a staff member (admin login), DEBUG only."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("demo_otp reads a TOTP secret: it only runs with DEBUG on.")
        device = TotpDevice.objects.filter(customer__user__username=username, confirmed=True).first()
        if device is None:
            from staff.models import StaffTotpDevice

            staff_device = StaffTotpDevice.objects.filter(user__username=username, confirmed=True).first()
            if staff_device is not None:
                self.stdout.write(staff_device.totp().now())
                return
            raise CommandError(f"{username} has no confirmed TOTP device.")
        self.stdout.write(pyotp.TOTP(totp_secret(device)).now())
