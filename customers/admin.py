from django.contrib import admin
from django.utils import timezone

from core.times import iso_utc
from customers.models import Customer, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "venue_code", "quote_currencies")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("reference", "user", "legal_name", "country", "kyc_level", "kyc_status", "payouts_frozen",
                    "created_at")
    list_filter = ("kyc_status", "kyc_level", "country")
    search_fields = ("reference", "user__username", "user__email", "legal_name")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("payouts_frozen_until", "payouts_frozen_reason")

    @admin.display(description="payouts frozen until", ordering="payouts_frozen_until")
    def payouts_frozen(self, obj: Customer) -> str:
        """Shown while a freeze runs: its end (UTC) and what started it."""
        if not obj.payouts_frozen_at(timezone.now()):
            return "-"
        return f"{iso_utc(obj.payouts_frozen_until)} ({obj.payouts_frozen_reason})"
