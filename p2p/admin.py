"""Admin for P2P: offers and trades are read-only records (every move goes through p2p.services);
a trade's page shows its timeline, both sides' evidence and its ledger entries; the appeal queue
lists trades in appeal, oldest first, with the buttons that propose a decision (the decision is
then taken on the ``atm.p2p.appeal`` work order, by people other than the proposer)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_tools import ReadOnlyAdminMixin, ReadOnlyInline, action_with_reason, amount_text, when_text
from core.evidence import evidence_content_type
from p2p.models import P2PAppealItem, P2PEvidence, P2POffer, P2POfferStatusChange, P2PTrade, P2PTradeStatusChange
from p2p.selectors import trades_waiting_on_a_human
from p2p.services import trade_resolution_propose

PROPOSE_PERMISSION = "p2p.propose_p2p_resolution"


class _TradePartInline(ReadOnlyInline):
    """Who may view the trade sees its parts (timeline, evidence) without permissions of their own."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("p2p.view_p2ptrade") or super().has_view_permission(request, obj)


class TimelineInline(_TradePartInline):
    model = P2PTradeStatusChange
    fields = ("at_display", "move", "version", "actor", "reason")
    readonly_fields = fields
    verbose_name_plural = "Timeline (who, when, from, to, version, why)"

    @admin.display(description="at")
    def at_display(self, obj):
        return when_text(obj.at)

    @admin.display(description="from → to")
    def move(self, obj):
        if obj.from_status == obj.to_status:
            return f"note ({obj.to_status})"
        return f"{obj.from_status or '—'} → {obj.to_status}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class EvidenceInline(_TradePartInline):
    model = P2PEvidence
    fields = ("created_display", "side", "kind", "note", "uploaded_by", "download")
    readonly_fields = fields
    verbose_name_plural = "Evidence of both sides (payment proof, appeal evidence)"

    @admin.display(description="at")
    def created_display(self, obj):
        return when_text(obj.created_at)

    @admin.display(description="file")
    def download(self, obj):
        if not obj.pk or not obj.file:
            return "—"
        url = reverse("admin:p2p_p2ptrade_evidence", args=[obj.trade_id, obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj.file.name.split("/")[-1])

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


def _propose(outcome: str):
    return action_with_reason(
        name=f"propose_{outcome}",
        description=f"Propose {outcome} (in appeal: opens atm.p2p.appeal; others decide it)",
        service=lambda trade, actor, reason: trade_resolution_propose(trade=trade, actor=actor, outcome=outcome,
                                                                      reason=reason),
        done=f"Proposed {outcome}: work order opened", permissions=("propose",))


class P2PTradeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "status", "version", "seller", "buyer", "fiat_amount_display", "created_display",
                    "expires_display")
    list_filter = ("status", "currency", "fiat", "fee_payer")
    search_fields = ("=id", "seller__reference", "buyer__reference", "payer_name", "payer_account")
    list_select_related = ("seller__user", "buyer__user", "currency")
    date_hierarchy = "created_at"
    inlines = [TimelineInline, EvidenceInline]
    actions = [_propose("release"), _propose("refund")]
    fieldsets = (
        (None, {"fields": ("status", "version", "offer", "seller", "buyer", "work_order_link", "ledger_link")}),
        ("Terms", {"fields": ("amount_display", "price", "fiat_amount_display", "fee_display", "fee_payer",
                              "escrow_display", "receives_display", "escrow_split")}),
        ("Payment", {"fields": ("payment_method_label", "payer_name", "payer_account", "paid_undone",
                                "seller_cancel_requested", "cancelled_by")}),
        ("Appeal", {"fields": ("appealed_by", "appeal_reason", "appealed_at")}),
        ("Times", {"fields": ("created_at", "expires_at", "paid_at", "release_deadline", "closed_at")}),
    )
    readonly_fields = ("work_order_link", "ledger_link", "amount_display", "fiat_amount_display", "fee_display",
                       "escrow_display", "receives_display")

    def changelist_view(self, request, extra_context=None):
        counts = trades_waiting_on_a_human()
        extra_context = {**(extra_context or {}), "subtitle": (
            f"Waiting on a human: {counts['buyer_paid']} paid (the seller checks their bank), "
            f"{counts['in_appeal']} in appeal ({counts['in_appeal_undecided']} without a proposed decision).")}
        return super().changelist_view(request, extra_context)

    def has_propose_permission(self, request):
        return request.user.has_perm(PROPOSE_PERMISSION)

    def get_urls(self):
        return [path("<int:trade_id>/evidence/<int:evidence_id>/", self.admin_site.admin_view(self.evidence_view),
                     name="p2p_p2ptrade_evidence"), *super().get_urls()]

    def evidence_view(self, request, trade_id: int, evidence_id: int):
        """Evidence is personal data: served to staff who may view the trade, downloaded, never rendered."""
        if not request.user.has_perm("p2p.view_p2ptrade"):
            raise PermissionDenied
        evidence = get_object_or_404(P2PEvidence, pk=evidence_id, trade_id=trade_id)
        if not evidence.file:
            raise Http404("No file.")
        response = FileResponse(evidence.file.open("rb"), as_attachment=True,
                                filename=evidence.file.name.split("/")[-1],
                                content_type=evidence_content_type(evidence.file))
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.display(description="work order")
    def work_order_link(self, obj):
        from approvals.models import WorkOrder

        orders = WorkOrder.objects.filter(type="atm.p2p.appeal", object_id=obj.pk, content_type__app_label="p2p",
                                          content_type__model="p2ptrade").order_by("-id")
        if not orders:
            return "—"
        return format_html(", ".join(
            format_html('<a href="{}">WO{}</a> ({}: {})', reverse("admin:approvals_workorder_change", args=[wo.pk]),
                        wo.pk, wo.context.get("outcome"), wo.get_status_display()) for wo in orders))

    @admin.display(description="ledger")
    def ledger_link(self, obj):
        url = reverse("admin:ledger_journalentry_changelist") + f"?q=p2p:trade:{obj.pk}:"
        return format_html('<a href="{}">Journal entries of T{}</a> (escrow, release / refund)', url, obj.pk)

    @admin.display(description="amount")
    def amount_display(self, obj):
        return amount_text(obj.amount, obj.currency_id)

    @admin.display(description="fiat amount")
    def fiat_amount_display(self, obj):
        return amount_text(obj.fiat_amount, obj.fiat)

    @admin.display(description="fee")
    def fee_display(self, obj):
        return amount_text(obj.fee, obj.currency_id)

    @admin.display(description="escrow")
    def escrow_display(self, obj):
        return amount_text(obj.escrow_amount, obj.currency_id)

    @admin.display(description="buyer receives")
    def receives_display(self, obj):
        return amount_text(obj.buyer_receives, obj.currency_id)

    @admin.display(description="created", ordering="created_at")
    def created_display(self, obj):
        return when_text(obj.created_at)

    @admin.display(description="payment window ends", ordering="expires_at")
    def expires_display(self, obj):
        return when_text(obj.expires_at)


admin.site.register(P2PTrade, P2PTradeAdmin)


@admin.register(P2PAppealItem)
class P2PAppealQueueAdmin(P2PTradeAdmin):
    """Trades in appeal, oldest appeal first: read both sides' evidence, then propose a decision."""

    list_display = ("__str__", "appealed_by", "appealed_display", "seller", "buyer", "fiat_amount_display",
                    "work_order_link")
    list_filter = ("appealed_by", "currency", "fiat")
    ordering = ("appealed_at", "id")
    date_hierarchy = None

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=P2PTrade.Status.IN_APPEAL)

    # A view of the trades: who may view trades may use it (no permissions on the proxy itself).
    def has_module_permission(self, request) -> bool:
        return request.user.has_perm("p2p.view_p2ptrade")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("p2p.view_p2ptrade")

    @admin.display(description="appealed", ordering="appealed_at")
    def appealed_display(self, obj):
        return when_text(obj.appealed_at)


class OfferHistoryInline(ReadOnlyInline):
    model = P2POfferStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("p2p.view_p2poffer") or super().has_view_permission(request, obj)


@admin.register(P2POffer)
class P2POfferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "status", "seller", "currency", "fiat", "price", "remaining", "fee_payer",
                    "created_at")
    list_filter = ("status", "currency", "fiat")
    search_fields = ("=id", "seller__reference")
    list_select_related = ("seller__user", "currency")
    inlines = [OfferHistoryInline]
