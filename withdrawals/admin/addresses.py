"""Admin for customer addresses: the address book, the review queue, and the staff decisions.

Nothing here writes a status: the actions call ``withdrawals.services.addresses`` (the same
services as the App API and the approvals engine). Every field is read-only; staff cannot add
or delete addresses. Evidence is served to staff through the admin (never from a public URL).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from approvals.selectors import approval_panel, work_order_for_subject
from core.admin_tools import action_with_reason, run_service_per_object, when_text
from withdrawals.models.addresses import AddressReviewItem, AddressStatusChange, CustomerAddress
from withdrawals.selectors.addresses import address_is_usable, addresses_for_admin, addresses_pending_review
from withdrawals.services.addresses import (
    WORK_ORDER_TYPE,
    address_micropayment_confirm,
    address_review_decide,
    address_revoke,
)


class AddressStatusChangeInline(admin.TabularInline):
    model = AddressStatusChange
    verbose_name_plural = "history"
    fields = ("at_display", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    @admin.display(description="at")
    def at_display(self, obj) -> str:
        return when_text(obj.at)

    def has_view_permission(self, request, obj=None) -> bool:
        # part of the address: whoever may view addresses sees its history
        return request.user.has_perm("withdrawals.view_customeraddress") or super().has_view_permission(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


# With an open review work order, a decision is recorded on it (its flow decides when the address
# is verified); without one the address is decided at once. See address_review_decide.
approve_action = action_with_reason(
    name="approve_addresses", description="Approve (verify) the selected addresses",
    service=lambda address, actor, reason: address_review_decide(address=address, actor=actor, approve=True,
                                                                 reason=reason),
    done="Approved", permissions=("review",))
reject_action = action_with_reason(
    name="reject_addresses", description="Reject the selected addresses",
    service=lambda address, actor, reason: address_review_decide(address=address, actor=actor, approve=False,
                                                                 reason=reason),
    done="Rejected", permissions=("review",))
revoke_action = action_with_reason(
    name="revoke_addresses", description="Revoke the selected addresses",
    service=lambda address, actor, reason: address_revoke(address=address, actor=actor, reason=reason),
    done="Revoked", permissions=("revoke",))


class MicropaymentSeenForm(forms.Form):
    tx_hash = forms.CharField(max_length=100, label="Transaction hash", required=False,
                              help_text="Where the chain is read here (ETH) it decides and this may stay empty; "
                                        "elsewhere the hash goes on a work order for a second person to check.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), required=False,
                             help_text="Optional note for the history.")


def _micropayment_confirm(modeladmin, request, address, data) -> None:
    address, work_order = address_micropayment_confirm(address=address, actor=request.user, tx_hash=data["tx_hash"],
                                                       reason=data["reason"])
    if work_order is not None:
        modeladmin.message_user(request, f"{address}: the chain cannot be read here; work order WO{work_order.pk} "
                                         "waits for a second person's decision.", messages.WARNING)


@admin.action(description="Micropayment arrived: check the chain (or open a two-person review)",
              permissions=("review",))
def micropayment_seen_action(modeladmin, request, queryset):
    if "apply" in request.POST:
        form = MicropaymentSeenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            run_service_per_object(modeladmin, request, queryset,
                                   lambda address: _micropayment_confirm(modeladmin, request, address, data),
                                   "Checked")
            return None
    else:
        form = MicropaymentSeenForm()
    return TemplateResponse(request, "admin/action_reason.html", {
        **modeladmin.admin_site.each_context(request),
        "title": "Mark the micropayment seen", "objects": queryset, "form": form,
        "action": "micropayment_seen_action", "opts": modeladmin.model._meta,
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
    })


@admin.register(CustomerAddress)
class CustomerAddressAdmin(admin.ModelAdmin):
    list_display = ("id", "address", "network", "customer_reference", "label", "status", "verification_method",
                    "usable_from_display", "usable_now", "created_display")
    list_display_links = ("id", "address")
    list_filter = ("status", "network", "verification_method")
    search_fields = ("=id", "address", "customer__reference", "customer__user__username", "label")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    inlines = [AddressStatusChangeInline]
    actions = [approve_action, reject_action, micropayment_seen_action, revoke_action]
    fieldsets = (
        (None, {"fields": ("customer", "network", "address", "label", "memo")}),
        ("Verification", {"fields": ("status", "verification_method", "evidence_link", "micropayment",
                                     "verified_display", "usable_from_display", "usable_now", "reason")}),
        ("Record", {"fields": ("created_display", "updated_display", "withdrawals_link")}),
    )
    readonly_fields = ("customer", "network", "address", "label", "memo", "status", "verification_method",
                       "evidence_link", "micropayment", "verified_display", "usable_from_display", "usable_now",
                       "reason", "created_display", "updated_display", "withdrawals_link")

    change_form_template = "admin/withdrawals/customeraddress/change_form.html"

    def get_queryset(self, request):
        return addresses_for_admin()

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Customer addresses", **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The review work order's approval panel (steps, decisions, Approve / Reject) on top."""
        extra_context = {**(extra_context or {}),
                         # every field is read-only: decisions are the actions and the panel's buttons
                         "show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        address = self.get_object(request, object_id)
        if address is not None:
            extra_context["title"] = "Customer address"
            extra_context["subtitle"] = (f"{address.network.code} {address.address} — {address.label or 'no label'}"
                                         f" · {address.get_status_display()}")
            work_order = work_order_for_subject(address, type=WORK_ORDER_TYPE)
            if work_order is not None:
                extra_context["approval_panel"] = approval_panel(work_order, request.user,
                                                                 next_url=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # The actions' permissions: deciding itself is the work order's (group, maker ≠ checker).
    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("withdrawals.review_address")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("withdrawals.revoke_address")

    @admin.display(description="customer", ordering="customer__reference")
    def customer_reference(self, obj: CustomerAddress) -> str:
        return obj.customer.reference

    @admin.display(description="verified at", ordering="verified_at")
    def verified_display(self, obj: CustomerAddress) -> str:
        return when_text(obj.verified_at)

    @admin.display(description="usable from", ordering="usable_from")
    def usable_from_display(self, obj: CustomerAddress) -> str:
        return when_text(obj.usable_from)

    @admin.display(description="created at", ordering="created_at")
    def created_display(self, obj: CustomerAddress) -> str:
        return when_text(obj.created_at)

    @admin.display(description="updated at", ordering="updated_at")
    def updated_display(self, obj: CustomerAddress) -> str:
        return when_text(obj.updated_at)

    @admin.display(description="withdrawals")
    def withdrawals_link(self, obj: CustomerAddress) -> str:
        count = obj.withdrawals.count()
        if not count:
            return "none yet"
        url = reverse("admin:withdrawals_withdrawalorder_changelist") + "?" + urlencode({"q": obj.address})
        return format_html('<a href="{}">{} withdrawal(s) to this address</a>', url, count)

    @admin.display(description="usable now", boolean=True)
    def usable_now(self, obj: CustomerAddress) -> bool:
        return address_is_usable(obj)

    @admin.display(description="micropayment")
    def micropayment(self, obj: CustomerAddress) -> str:
        if obj.micropayment_amount is None:
            return "—"
        seen = f", seen in {obj.micropayment_tx_hash}" if obj.micropayment_tx_hash else ", not seen yet"
        return f"{obj.micropayment_amount.normalize():f} to {obj.micropayment_to}{seen}"

    @admin.display(description="evidence")
    def evidence_link(self, obj: CustomerAddress) -> str:
        if not obj.pk or not obj.evidence:
            return "—"
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_evidence", args=[obj.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, obj.evidence.name.split("/")[-1])

    # Evidence is personal data: served to staff who may view the address, not from MEDIA_URL.
    def get_urls(self):
        opts = self.model._meta
        return [
            path("<int:object_id>/evidence/", self.admin_site.admin_view(self.evidence_view),
                 name=f"{opts.app_label}_{opts.model_name}_evidence"),
            *super().get_urls(),
        ]

    def evidence_view(self, request, object_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        address = get_object_or_404(CustomerAddress, pk=object_id)
        if not address.evidence:
            raise Http404("No evidence.")
        # Downloaded, never rendered: an upload cannot run in the admin's origin.
        from core.evidence import evidence_content_type

        response = FileResponse(address.evidence.open("rb"), as_attachment=True,
                                filename=address.evidence.name.split("/")[-1],
                                content_type=evidence_content_type(address.evidence))
        response["X-Content-Type-Options"] = "nosniff"
        return response


@admin.register(AddressReviewItem)
class AddressReviewQueueAdmin(CustomerAddressAdmin):
    """Addresses with evidence awaiting a staff decision, oldest first."""

    list_display = ("address", "network", "customer_reference", "label", "evidence_link", "waiting_since")
    list_display_links = ("address",)
    list_filter = ("network",)
    date_hierarchy = None
    ordering = ("updated_at", "id")
    actions = [approve_action, reject_action]

    # The queue is a view of the address book: who may view / decide on addresses may use it,
    # without separate permissions on the proxy model (which no staff group is given).
    def has_module_permission(self, request) -> bool:
        return request.user.has_module_perms("withdrawals")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("withdrawals.view_customeraddress") or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("withdrawals.change_customeraddress") or super().has_change_permission(
            request, obj)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {
            "title": "Address review queue: open an address to see its evidence, or select and Approve / Reject",
            **(extra_context or {})})

    @admin.display(description="waiting since", ordering="updated_at")
    def waiting_since(self, obj: CustomerAddress) -> str:
        return when_text(obj.updated_at)

    def get_queryset(self, request):
        return addresses_pending_review()
