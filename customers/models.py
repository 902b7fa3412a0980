"""The tenant (the broker running this console) and its customers."""

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models

from core.history import config_history


@config_history()
class Tenant(models.Model):
    """The broker. At the venue it holds a main account (fees) and sub-accounts (principal)."""

    name = models.CharField(max_length=200)
    venue_code = models.CharField(
        max_length=10, unique=True, validators=[RegexValidator(r"^[A-Z0-9]{2,10}$")],
        help_text="Venue code used in instrument codes, e.g. HAS in VA/HAS/ETHUSD.",
    )
    quote_currencies = ArrayField(
        models.CharField(max_length=3, validators=[RegexValidator(r"^[A-Z]{3}$")]),
        default=list,
        help_text="Quote currencies of the customers' instruments, e.g. USD, HKD.",
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.venue_code})"


@config_history()
class Customer(models.Model):
    """A customer of the tenant, tied to a Django user who logs into the App."""

    class KycStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SUSPENDED = "suspended", "Suspended"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="customers")
    reference = models.CharField(max_length=40, unique=True, help_text="The tenant's customer number.")
    kyc_level = models.PositiveSmallIntegerField(
        default=1, help_text="KYC tier (1 basic, 2 enhanced, 3 institutional); sets daily limits."
    )
    kyc_status = models.CharField(max_length=16, choices=KycStatus.choices, default=KycStatus.PENDING)
    # KYC identity (fiat cash-out: a bank account's holder must be this person; customers.names).
    legal_name = models.CharField(max_length=200, blank=True,
                                  help_text="Full legal name as verified by KYC; bank-account holders must match it.")
    country = models.CharField(max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$")],
                               help_text="Country of residence from KYC (ISO 3166 alpha-2, e.g. HK); screened.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set only by customers.services.customer_freeze_payouts (read-only in the admin).
    payouts_frozen_until = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="Withdrawals are refused (payout_frozen) until then: after a password change, a replacement "
                  "OTP device or a new address.")
    payouts_frozen_reason = models.CharField(max_length=200, blank=True, editable=False,
                                             help_text="What started the latest payout freeze.")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(kyc_level__gte=0, kyc_level__lte=3),
                                   name="customer_kyc_level_range"),
            models.CheckConstraint(condition=models.Q(country="") | models.Q(country__regex=r"^[A-Z]{2}$"),
                                   name="customer_country_iso2"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.user.get_username()})"

    @property
    def may_withdraw(self) -> bool:
        return self.kyc_status == self.KycStatus.APPROVED and self.kyc_level >= 1

    @property
    def legal_name_normalized(self) -> str:
        from customers.names import name_normalize

        return name_normalize(self.legal_name)

    def payouts_frozen_at(self, now) -> bool:
        return self.payouts_frozen_until is not None and self.payouts_frozen_until > now


# --- Staff accounts, groups and permissions: history of who may do what ---------------------------
# Proxies of django.contrib.auth's models, so that the triggers and event tables live in this
# app's migrations. The password hash and last_login are not recorded.


@config_history(fields=["username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser"],
                model_name="UserEvent")
class TrackedUser(User):
    class Meta:
        proxy = True
        verbose_name = "user (history)"


@config_history(model_name="GroupEvent")
class TrackedGroup(Group):
    class Meta:
        proxy = True
        verbose_name = "group (history)"


@config_history(obj_field=None, model_name="UserGroupEvent")
class TrackedUserGroup(User.groups.through):
    class Meta:
        proxy = True


@config_history(obj_field=None, model_name="UserPermissionEvent")
class TrackedUserPermission(User.user_permissions.through):
    class Meta:
        proxy = True


@config_history(obj_field=None, model_name="GroupPermissionEvent")
class TrackedGroupPermission(Group.permissions.through):
    class Meta:
        proxy = True
