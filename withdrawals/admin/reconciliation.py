"""Admin of the hot-wallet reconciliation: the alerts (acknowledge = approve the alert's work order
``atm.va.reconciliation_ack``, two Treasury members) and the opening balances (recorded here, active
once another Treasury member approves ``atm.va.hot_wallet_opening``). Both call
``withdrawals.services.reconciliation``; nothing is edited in place."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin_tools import ActionsOnlyAdminMixin, action_with_reason, amount_text, when_text
from withdrawals.models import HotWalletOpening, ReconciliationAlert
from withdrawals.services.reconciliation import hot_wallet_opening_record, reconciliation_alert_acknowledge


@admin.register(ReconciliationAlert)
class ReconciliationAlertAdmin(ActionsOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "network", "currency", "address", "expected", "actual_display", "difference_display",
                    "detected", "acknowledged")
    list_filter = ("network", "currency", ("acknowledged_at", admin.EmptyFieldListFilter))
    list_select_related = ("network", "currency")
    search_fields = ("address", "reason")
    readonly_fields = ("network", "address", "currency", "opening", "expected_low", "expected_high", "actual",
                       "difference", "dust", "reason", "paused_sending", "detected_at", "last_seen_at",
                       "acknowledged_at", "acknowledged_reason")
    actions = [action_with_reason(
        name="acknowledge", description="Acknowledge (your approval of the acknowledgement work order)",
        service=lambda alert, actor, reason: reconciliation_alert_acknowledge(alert=alert, actor=actor, reason=reason),
        done="Acknowledgement recorded")]

    @admin.display(description="expected")
    def expected(self, alert):
        return f"{amount_text(alert.expected_low)} – {amount_text(alert.expected_high, alert.currency.code)}"

    @admin.display(description="actual")
    def actual_display(self, alert):
        return amount_text(alert.actual, alert.currency.code)

    @admin.display(description="difference")
    def difference_display(self, alert):
        return amount_text(alert.difference, alert.currency.code)

    @admin.display(description="detected", ordering="detected_at")
    def detected(self, alert):
        return when_text(alert.detected_at)

    @admin.display(description="acknowledged", ordering="acknowledged_at")
    def acknowledged(self, alert):
        return when_text(alert.acknowledged_at) if alert.acknowledged_at else "OPEN: sending paused"


class OpeningForm(forms.ModelForm):
    class Meta:
        model = HotWalletOpening
        fields = ("network", "address", "currency", "amount", "as_of", "reason")


@admin.register(HotWalletOpening)
class HotWalletOpeningAdmin(admin.ModelAdmin):
    """Add records an opening through the service (a work order opens); nothing is edited afterwards."""

    form = OpeningForm
    list_display = ("__str__", "status", "recorded_by", "decided_by", "created_at")
    list_filter = ("status", "network", "currency")
    list_select_related = ("network", "currency", "recorded_by", "decided_by")

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = hot_wallet_opening_record(network=data["network"], address=data["address"],
                                          currency=data["currency"], amount=data["amount"], as_of=data["as_of"],
                                          actor=request.user, reason=data["reason"])
        obj.pk = saved.pk
