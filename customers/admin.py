from django.contrib import admin

from customers.models import Customer, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "venue_code", "quote_currencies")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("reference", "user", "kyc_level", "kyc_status", "created_at")
    list_filter = ("kyc_status", "kyc_level")
    search_fields = ("reference", "user__username", "user__email")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
