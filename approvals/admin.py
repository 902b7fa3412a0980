"""Admin: work orders (queue, page with the flow and Approve / Reject), flows with their steps,
the risk list, the price table and fee-reserve requests. Every write calls a service."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max, OuterRef, Subquery
from django.forms import modelform_factory
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from approvals import admin_access  # noqa: F401 - registers Users, Groups and the access changes
from approvals.admin_config import ConfigChangeAdminMixin, ConfigHistoryWithWaitingMixin
from approvals.forms import DecisionForm
from approvals.models import (
    ApprovalFlow,
    ApprovalStep,
    DepositBooking,
    FeeReserveRequest,
    MyQueue,
    PriceQuote,
    RiskListEntry,
    WorkOrder,
    WorkOrderStep,
    WorkOrderType,
)
from approvals.prices import price_max_age
from approvals.selectors import approval_panel, work_order_queue
from approvals.services.deposits import deposit_booking_cancel, deposit_booking_create
from approvals.services.fee_reserve import fee_reserve_request_cancel, fee_reserve_request_create
from approvals.services.flows import approval_flow_activate, approval_flow_new_version
from approvals.services.work_orders import work_order_decide
from core.admin_tools import (
    FreshSecondFactorMixin,
    ReadOnlyAdminMixin,
    action_with_reason,
    amount_text,
    key_value_table,
    run_service_per_object,
    when_text,
)
from core.errors import DomainError
from core.second_factor import second_factor_challenge

# What the keys of a work order's context mean (approvals.handlers put them there).
CONTEXT_LABELS = {
    "amount": "Amount", "currency": "Currency", "network": "Network", "customer": "Customer",
    "destination": "Destination", "screening": "Screening outcome", "value_usd": "Value (USD)",
    "value_hkd": "Value (HKD)", "travel_rule_required": "Travel rule required",
    "travel_rule_threshold_hkd": "Travel-rule threshold (HKD)",
}


def context_table(context: dict | None):
    """A work order's context as a two-column table rather than a JSON dump."""
    if not context:
        return "—"

    def text(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, dict | list):
            return ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(
                map(str, value))
        return "—" if value in (None, "") else str(value)

    return key_value_table((CONTEXT_LABELS.get(key, key.replace("_", " ").capitalize()), text(value))
                           for key, value in context.items())


_LONG_TOKEN = re.compile(r"(?<![\w])[0-9A-Za-z]{24,}")


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


# --- work orders -----------------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Defaults to "Waiting for me": open work orders at a step of one of my groups."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("all", "All work orders")]

    def choices(self, changelist):
        value = self.value()
        yield {"selected": value is None, "query_string": changelist.get_query_string(remove=[self.parameter_name]),
               "display": "Waiting for me"}
        yield {"selected": value == "all", "query_string": changelist.get_query_string({self.parameter_name: "all"}),
               "display": "All work orders"}

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(pk__in=work_order_queue(user=request.user).values("pk"))


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {"1h": (None, timedelta(hours=1)), "1d": (timedelta(hours=1), timedelta(days=1)),
             "3d": (timedelta(days=1), timedelta(days=3)), "old": (timedelta(days=3), None)}

    def lookups(self, request, model_admin):
        return [("1h", "Under 1 hour"), ("1d", "1 to 24 hours"), ("3d", "1 to 3 days"), ("old", "Over 3 days")]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        now = timezone.now()
        younger, older = band
        if younger is not None:
            queryset = queryset.filter(created_at__lte=now - younger)
        if older is not None:
            queryset = queryset.filter(created_at__gt=now - older)
        return queryset


class OlderThanFilter(admin.SimpleListFilter):
    """Opened more than N minutes ago (the desk's "past the SLA" link gives the SLA)."""

    title = "opened over"
    parameter_name = "older_than"

    def lookups(self, request, model_admin):
        choices = [("60", "1 hour ago"), ("1440", "1 day ago")]
        if self.value() and self.value() not in dict(choices):
            choices.append((self.value(), f"{self.value()} minutes ago"))
        return choices

    def queryset(self, request, queryset):
        try:
            return queryset.filter(created_at__lt=timezone.now() - timedelta(minutes=int(self.value() or "")))
        except ValueError:
            return queryset


@admin.register(WorkOrder)
class WorkOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: decisions go through the Approve / Reject buttons (work_order_decide)."""

    change_form_template = "admin/approvals/workorder/change_form.html"
    list_display = ("number", "subject_short", "amount_display", "status", "current_step_name", "age",
                    "screening_outcome")
    list_display_links = ("number",)
    list_filter = (QueueFilter, "type", "status", AgeFilter, OlderThanFilter, "screening_outcome")
    search_fields = ("subject_label",)
    search_help_text = "Subject id (e.g. 42 or W42), or words of the subject's description."
    list_select_related = ("flow",)
    readonly_fields = ("type", "subject_link", "subject_label", "status", "flow", "maker", "amount_display",
                       "screening_outcome", "context_display", "reason", "created_at_display", "closed_at_display")
    fields = readonly_fields
    date_hierarchy = "created_at"

    def changelist_view(self, request, extra_context=None):
        mine = QueueFilter.parameter_name not in request.GET
        title = "My queue: work orders waiting for your decision" if mine else "Work orders"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_queryset(self, request):
        current = WorkOrderStep.objects.filter(work_order=OuterRef("pk"), position=OuterRef("current_position"))
        return super().get_queryset(request).annotate(current_step_name=Subquery(current.values("name")[:1]))

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("WwOo#")
        if term.isdigit():
            return queryset.filter(object_id=int(term)) | queryset.filter(pk=int(term)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="work order", ordering="pk")
    def number(self, obj):
        return format_html("WO{}<br><small>{}</small>", obj.pk, obj.get_type_display().split(" (")[0])

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return "—" if obj.amount is None else amount_text(obj.amount, obj.currency)

    @admin.display(description="subject", ordering="subject_label")
    def subject_short(self, obj):
        """The subject's description with long addresses shortened (the full one in the tooltip)."""
        short = _LONG_TOKEN.sub(lambda m: f"{m.group(0)[:8]}…{m.group(0)[-6:]}", obj.subject_label)
        return format_html('<span title="{}">{}</span>', obj.subject_label, short)

    @admin.display(description="context (what the step conditions saw)")
    def context_display(self, obj):
        return context_table(obj.context)

    @admin.display(description="created at", ordering="created_at")
    def created_at_display(self, obj):
        return when_text(obj.created_at)

    @admin.display(description="closed at", ordering="closed_at")
    def closed_at_display(self, obj):
        return when_text(obj.closed_at)

    @admin.display(description="current step")
    def current_step_name(self, obj):
        return getattr(obj, "current_step_name", None) or "—"

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return _age(timezone.now() - obj.created_at)

    @admin.display(description="subject")
    def subject_link(self, obj):
        model = obj.content_type.model_class()
        if model is None:
            return obj.object_id
        try:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.object_id])
        except Exception:  # noqa: BLE001 - the subject's model has no admin
            return f"{model._meta.verbose_name} {obj.object_id}"
        return format_html('<a href="{}">{} {}</a>', url, model._meta.verbose_name, obj.object_id)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/", view(self.decide_view), name="approvals_workorder_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["approval_panel"] = approval_panel(obj, request.user)
            extra_context["subtitle"] = f"WO{obj.pk} — {obj.subject_label or obj.get_type_display()}"
        return super().change_view(request, object_id, form_url, extra_context)

    def _next(self, request, raw: str, work_order: WorkOrder) -> str:
        if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
            return raw
        return reverse("admin:approvals_workorder_change", args=[work_order.pk])

    def decide_view(self, request, pk: int):
        work_order = get_object_or_404(WorkOrder, pk=pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:approvals_workorder_change", args=[pk]))
        if challenge := second_factor_challenge(request):
            return challenge
        form = DecisionForm(request.POST)
        next_url = self._next(request, request.POST.get("next", ""), work_order)
        if not form.is_valid():
            self.message_user(request, "Choose approve or reject.", messages.ERROR)
            return HttpResponseRedirect(next_url)
        decision = form.cleaned_data["decision"]
        try:
            work_order = work_order_decide(work_order=work_order, actor=request.user, decision=decision,
                                           comment=form.cleaned_data["comment"])
        except DomainError as error:
            self.message_user(request, f"{work_order}: {error.detail}", messages.ERROR)
        else:
            done = "approved" if decision == "approve" else "rejected"
            self.message_user(request, f"{work_order}: you {done}. Status: {work_order.get_status_display()}.",
                              messages.SUCCESS)
        return HttpResponseRedirect(next_url)

@admin.register(MyQueue)
class MyQueueAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The index entry "My queue": the work-order list filtered to what waits for me."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def changelist_view(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("admin:approvals_workorder_changelist"))

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.changelist_view), name="approvals_myqueue_changelist")]


# --- flows -----------------------------------------------------------------------------------------


class ApprovalStepInline(admin.TabularInline):
    model = ApprovalStep
    extra = 0
    fields = ("position", "name", "group", "approvals_required", "condition", "threshold", "threshold_currency")
    ordering = ("position",)

    def _editable(self, obj) -> bool:
        """Only an unused, inactive version is edited (editing the active one would change what
        new work orders follow without the second person that activation needs)."""
        return obj is None or not (obj.is_used or obj.active)

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(ApprovalFlow)
class ApprovalFlowAdmin(FreshSecondFactorMixin, ConfigHistoryWithWaitingMixin, admin.ModelAdmin):
    list_display = ("type", "version", "active", "steps_summary", "work_orders_count", "created_at")
    list_filter = ("type", "active")
    inlines = [ApprovalStepInline]
    actions = ["new_version", "activate"]
    fields = ("type", "version", "active", "description", "created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("version", "active", "created_by", "created_at")
        if obj.is_used:
            return self.fields
        return ("type", "version", "active", "created_by", "created_at")

    def get_fields(self, request, obj=None):
        return self.fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps__group")

    @admin.display(description="steps")
    def steps_summary(self, obj):
        parts = []
        for s in obj.steps.all():
            condition = f", {s.condition_label()}" if s.condition_label() else ""
            parts.append(f"{s.name} ({s.approvals_required} of {s.group.name}{condition})")
        return " → ".join(parts)

    @admin.display(description="work orders")
    def work_orders_count(self, obj):
        return obj.work_orders.count()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.version = (ApprovalFlow.objects.filter(type=obj.type).aggregate(v=Max("version"))["v"] or 0) + 1
            obj.active = False
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_changeform_initial_data(self, request):
        return {"type": request.GET.get("type", WorkOrderType.COIN_WITHDRAW_APPLY)}

    @admin.action(description="Copy to a new (inactive) version to edit", permissions=["add"])
    def new_version(self, request, queryset):
        run_service_per_object(self, request, queryset,
                               lambda flow: approval_flow_new_version(flow=flow, actor=request.user),
                               "New versions created")

    @admin.action(description="Activate (after a second person approves)", permissions=["change"])
    def activate(self, request, queryset):
        if challenge := second_factor_challenge(request):
            return challenge
        """Activation waits for a work order atm.config.change (not the requester, not the author)."""
        for flow in queryset:
            try:
                change = approval_flow_activate(flow=flow, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{flow}: {error.detail}", messages.ERROR)
                continue
            if change is None:
                self.message_user(request, f"{flow} is already active.", messages.INFO)
            else:
                self.message_user(request, f"{flow}: waiting for a second person: WO{change.work_order_id}. "
                                           "It becomes active when a member of Configuration checkers (not you, "
                                           "not its author) approves it.", messages.WARNING)


# --- risk list, prices -----------------------------------------------------------------------------


@admin.register(RiskListEntry)
class RiskListEntryAdmin(ConfigChangeAdminMixin, admin.ModelAdmin):
    list_display = ("address", "network", "category", "level", "active", "source", "updated_at")
    list_filter = ("network", "category", "level", "active")
    search_fields = ("address", "source", "note")
    readonly_fields = ("created_by", "created_at", "updated_at")
    fields = ("network", "address", "category", "level", "source", "note", "active", *readonly_fields)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        """An entry is deactivated (through the second person), never deleted."""
        return False


@admin.register(PriceQuote)
class PriceQuoteAdmin(ConfigChangeAdminMixin, admin.ModelAdmin):
    list_display = ("currency", "quote", "price", "updated_at", "updated_by", "fresh")
    list_filter = ("quote", "currency")
    list_editable = ("price",)
    readonly_fields = ("updated_by", "updated_at")
    fields = ("currency", "quote", "price", *readonly_fields)

    @admin.display(boolean=True, description="used")
    def fresh(self, obj):
        """A quote older than PRICE_QUOTE_MAX_AGE is ignored (values unknown: thresholds apply)."""
        return obj.updated_at >= timezone.now() - price_max_age()

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


# --- fee-reserve requests ----------------------------------------------------------------------------


@admin.register(FeeReserveRequest)
class FeeReserveRequestAdmin(admin.ModelAdmin):
    change_form_template = "admin/approvals/feereserverequest/change_form.html"
    list_display = ("__str__", "kind", "tenant", "amount", "currency", "status", "requested_by", "created_at")
    list_filter = ("kind", "status", "currency")
    list_select_related = ("tenant", "currency", "requested_by")
    add_fields = ("tenant", "kind", "currency", "amount", "note")
    actions = [action_with_reason(
        name="cancel_requests", description="Cancel the selected requests", done="Cancelled",
        service=lambda request, actor, reason: fee_reserve_request_cancel(request=request, actor=actor, reason=reason),
        permissions=("add",))]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return (*self.add_fields, "status", "requested_by", "reason", "created_at", "decided_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """Adding opens the work order through the service (never a bare save)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form_class = modelform_factory(FeeReserveRequest, fields=self.add_fields)
        form = form_class(request.POST or None, initial=request.GET.dict())  # links pre-fill the kind
        if request.method == "POST" and (challenge := second_factor_challenge(request)):
            return challenge
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                created = fee_reserve_request_create(tenant=data["tenant"], currency=data["currency"].code,
                                                     amount=data["amount"], kind=data["kind"], actor=request.user,
                                                     note=data["note"])
            except DomainError as error:
                form.add_error(error.field if error.field in self.add_fields else None, error.detail)
            else:
                self.message_user(request, f"{created} requested; its work order waits for approval.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:approvals_feereserverequest_change", args=[created.pk]))
        return TemplateResponse(request, "admin/approvals/feereserverequest/add_form.html", {
            **self.admin_site.each_context(request), "title": "Request a fee-reserve move", "form": form,
            "opts": self.model._meta,
        })

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            from approvals.selectors import work_order_for_subject

            extra_context["approval_panel"] = approval_panel(
                work_order_for_subject(obj), request.user, next_url=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)


# --- customer deposits booked by staff ---------------------------------------------------------------


@admin.register(DepositBooking)
class DepositBookingAdmin(admin.ModelAdmin):
    """Book a customer's deposit with its cost: the booking opens ``atm.va.deposit_book``; the
    ledger deposit is posted when another Treasury member approves it."""

    list_display = ("__str__", "customer", "amount", "currency", "quote", "cost", "cost_fiat", "status",
                    "requested_by", "created_at")
    list_filter = ("status", "currency")
    list_select_related = ("customer", "currency", "requested_by")
    search_fields = ("customer__reference",)
    add_fields = ("customer", "currency", "quote", "amount", "cost", "cost_fiat", "note")
    actions = [action_with_reason(
        name="cancel_bookings", description="Cancel the selected bookings", done="Cancelled",
        service=lambda booking, actor, reason: deposit_booking_cancel(booking=booking, actor=actor, reason=reason),
        permissions=("add",))]

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return (*self.add_fields, "status", "requested_by", "reason", "created_at", "decided_at", "decided_by")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """Adding opens the work order through the service (never a bare save)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form_class = modelform_factory(DepositBooking, fields=self.add_fields)
        form = form_class(request.POST or None)
        if request.method == "POST" and (challenge := second_factor_challenge(request)):
            return challenge
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                created = deposit_booking_create(
                    customer=data["customer"], currency=data["currency"].code, quote=data["quote"],
                    amount=data["amount"], cost=data["cost"], cost_fiat=data["cost_fiat"], note=data["note"],
                    actor=request.user)
            except DomainError as error:
                form.add_error(error.field if error.field in self.add_fields else None, error.detail)
            else:
                self.message_user(request, f"{created} recorded; its work order waits for approval.",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:approvals_depositbooking_change", args=[created.pk]))
        return TemplateResponse(request, "admin/approvals/depositbooking/add_form.html", {
            **self.admin_site.each_context(request), "title": "Book a customer deposit", "form": form,
            "opts": self.model._meta,
        })
