from django.contrib import admin
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from core.admin_tools import when_text
from core.second_factor import second_factor_challenge
from staff.models import StaffTotpDevice


class DeleteNeedsFreshCodeMixin:
    """Deleting a second factor (its owner enrols again) asks for a fresh code first."""

    actions = None  # deleting goes through the object page

    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST" and (challenge := second_factor_challenge(request)):
            return challenge
        return super().delete_view(request, object_id, extra_context)


@admin.register(StaffTotpDevice)
class StaffTotpDeviceAdmin(DeleteNeedsFreshCodeMixin, admin.ModelAdmin):
    """Who has an authenticator. Never the secret; deleting a device makes its owner enrol again."""

    list_display = ("user", "name", "confirmed", "confirmed_display", "throttling_failure_count")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "confirmed_display", "throttling_failure_count")
    readonly_fields = fields

    @admin.display(description="confirmed at")
    def confirmed_display(self, obj):
        return when_text(obj.confirmed_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebAuthnCredential)
class StaffPasskeyAdmin(DeleteNeedsFreshCodeMixin, WebAuthnCredentialAdmin):
    """Staff passkeys (public keys only): look, or delete a lost one."""

    def has_change_permission(self, request, obj=None):
        return False
