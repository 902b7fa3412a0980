"""Admin for withdrawal orders: read-only records; every move goes through a service."""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from chains.pipeline import withdrawal_fee_bump
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction
from withdrawals.services.orders import withdrawal_reject, withdrawal_resubmit
from withdrawals_site.admin_tools import ReadOnlyInline, action_with_reason, run_service_per_object


class StatusHistoryInline(ReadOnlyInline):
    model = WithdrawalStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    verbose_name_plural = "Status history (who, when, from, to, why)"


class TransactionInline(ReadOnlyInline):
    model = WithdrawalTransaction
    fields = ("created_at", "tx_hash", "state", "nonce", "max_fee", "fee_bump", "send_attempts", "meta")
    readonly_fields = fields
    verbose_name_plural = "Signed transactions (stored before sending; a fee bump adds a candidate)"


class StuckFilter(admin.SimpleListFilter):
    """Sent but not included for PIPELINE_STUCK_AFTER_SECONDS: candidates for "Bump fee"."""

    title = "on chain"
    parameter_name = "chain"

    def lookups(self, request, model_admin):
        return [("stuck", "Stuck (sent, not included) — may need a fee bump"), ("waiting", "Awaiting fee")]

    def queryset(self, request, queryset):
        from chains.pipeline import stuck_after

        if self.value() == "stuck":  # as chains.pipeline.withdrawal_stuck_since: the newest live candidate is old
            live = ["signed", "sent"]
            cutoff = timezone.now() - stuck_after()
            return (queryset.filter(status__in=["broadcasting", "confirming"], confirmations=0,
                                    transactions__state__in=live, transactions__created_at__lte=cutoff)
                    .exclude(transactions__state__in=live, transactions__created_at__gt=cutoff).distinct())
        if self.value() == "waiting":
            return queryset.filter(status="awaiting_fee")
        return queryset


@admin.register(WithdrawalOrder)
class WithdrawalOrderAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "coin", "amount", "status_badge", "confirmations_display", "short_tx",
                    "created_at")
    list_filter = (StuckFilter, "status", "coin__network", "coin__currency", "created_at")
    search_fields = ("=id", "destination", "tx_hash", "customer__reference", "customer__user__username")
    list_select_related = ("customer__user", "coin__currency", "coin__network")
    date_hierarchy = "created_at"
    inlines = [StatusHistoryInline, TransactionInline]
    actions = ["reject_before_sending", "resubmit_after_topup", "bump_fee"]
    fieldsets = (
        ("Request", {"fields": ("customer", "coin", "address", "destination", "amount", "customer_fee",
                                "network_fee_estimate", "split", "travel_rule", "created_at")}),
        ("Status", {"fields": ("status", "last_error", "updated_at", "completed_at")}),
        ("On chain", {"fields": ("tx_hash", "confirmations", "block_number", "block_hash", "fee_reserved",
                                 "fee_paid")}),
    )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The order page carries the work order's approval panel: steps, decisions, buttons."""
        from approvals.selectors import approval_panel_context, work_order_for_subject

        order = self.get_object(request, object_id)
        work_order = work_order_for_subject(order) if order else None
        panel = approval_panel_context(work_order, request.user, next_url=request.get_full_path())
        extra_context = {**(extra_context or {}), "approval_panel": panel}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False  # orders come from the App

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        colour = {"completed": "#2e7d32", "failed": "#c62828", "rejected": "#c62828", "cancelled": "#757575",
                  "awaiting_fee": "#ef6c00"}.get(obj.status, "#1565c0")
        return format_html('<b style="color:{}">{}</b>', colour, obj.get_status_display())

    @admin.display(description="confirmations")
    def confirmations_display(self, obj):
        return f"{obj.confirmations}/{obj.coin.confirmations}" if obj.tx_hash else "—"

    @admin.display(description="tx")
    def short_tx(self, obj):
        return f"{obj.tx_hash[:10]}…" if obj.tx_hash else ""

    reject_before_sending = action_with_reason(
        name="reject_before_sending", description="Reject (approved or awaiting fee, before sending)",
        service=lambda order, actor, reason: withdrawal_reject(order=order, actor=actor, reason=reason),
        done="Rejected and released")

    bump_fee = action_with_reason(
        name="bump_fee",
        description="Bump fee (a transaction stuck unconfirmed: same nonce / RBF, higher fee)",
        service=lambda order, actor, reason: withdrawal_fee_bump(order=order, actor=actor, reason=reason),
        done="Fee bumped, replacement broadcast")

    @admin.action(description='Resubmit ("Insufficient main account fees" resolved)',
                  permissions=["resubmit"])
    def resubmit_after_topup(self, request, queryset):
        run_service_per_object(self, request, queryset,
                               lambda order: withdrawal_resubmit(order=order, actor=request.user), "Resubmitted")

    def has_resubmit_permission(self, request):
        return request.user.has_perm("withdrawals.resubmit_withdrawal")
