"""Admin: configuration forms save through ``config_change_propose`` (what loosens waits for a
second person, work order ``atm.config.change``), every configuration page's "History" shows the
recorded changes, and the list of configuration changes.

The coin, network, currency, tenant and customer admins belong to apps below this one; they
are re-registered here as subclasses (their pages, fields and actions unchanged) so that those
apps need not know the approvals engine."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html

from approvals.models import ConfigChange
from approvals.services.config_changes import config_change_propose
from chains.admin import CoinAdmin, CurrencyAdmin, NetworkAdmin
from chains.models import Coin, Currency, Network
from core.admin_tools import ConfigHistoryAdminMixin, ReadOnlyAdminMixin, when_text
from core.errors import DomainError
from customers.admin import CustomerAdmin, TenantAdmin
from customers.models import Customer, Tenant

CHECKERS = "Configuration checkers"


class ConfigHistoryWithWaitingMixin(ConfigHistoryAdminMixin):
    """History page plus the changes of the object that wait for a second person."""

    def history_extra_context(self, request, obj) -> dict:
        waiting = ConfigChange.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk,
                                              status=ConfigChange.Status.PENDING).select_related("maker")
        return {"waiting": list(waiting)}


class ConfigChangeAdminMixin(ConfigHistoryWithWaitingMixin):
    """The change form saves through ``config_change_propose``: tightening fields at once,
    loosening ones wait for the work order; the messages say which. Adding a row saves it (a
    new row is recorded in the history)."""

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        concrete = {f.name: f.attname for f in obj._meta.concrete_fields}
        values = {name: getattr(obj, concrete[name]) for name in form.changed_data if name in concrete}
        outcomes = request.__dict__.setdefault("_config_changes", [])
        try:
            outcomes.append((obj, config_change_propose(target=obj, changes=values, actor=request.user,
                                                        reason="Changed in the admin form.")))
        except DomainError as error:
            outcomes.append((obj, error))
        obj.refresh_from_db()

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        outcomes = request.__dict__.pop("_config_changes", None)
        if not outcomes or level != messages.SUCCESS:
            return super().message_user(request, message, level, *args, **kwargs)
        for obj, outcome in outcomes:
            if isinstance(outcome, DomainError):
                super().message_user(request, f"{obj}: nothing was changed. {outcome.detail}", messages.ERROR)
            elif outcome is None:
                super().message_user(request, f"{obj}: nothing changed.", messages.INFO)
            else:
                applied = ", ".join(outcome.applied_at_once)
                if applied:
                    super().message_user(request, f"{obj}: applied at once (tightening): {applied}.", messages.SUCCESS)
                if outcome.status == ConfigChange.Status.PENDING:
                    super().message_user(
                        request, f"{obj}: waiting for a second person: WO{outcome.work_order_id} "
                                 f"({outcome.summary()}). It applies when a member of {CHECKERS} approves it.",
                        messages.WARNING)
        return None


admin.site.unregister(Coin)
admin.site.unregister(Network)
admin.site.unregister(Currency)
admin.site.unregister(Customer)
admin.site.unregister(Tenant)


@admin.register(Coin)
class CoinConfigAdmin(ConfigChangeAdminMixin, CoinAdmin):
    pass


@admin.register(Network)
class NetworkConfigAdmin(ConfigChangeAdminMixin, NetworkAdmin):
    pass


@admin.register(Customer)
class CustomerConfigAdmin(ConfigChangeAdminMixin, CustomerAdmin):
    pass


@admin.register(Currency)
class CurrencyConfigAdmin(ConfigHistoryWithWaitingMixin, CurrencyAdmin):
    pass


@admin.register(Tenant)
class TenantConfigAdmin(ConfigHistoryWithWaitingMixin, TenantAdmin):
    pass


@admin.register(ConfigChange)
class ConfigChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: proposed by the configuration forms, decided on the work order."""

    change_form_template = "admin/approvals/feereserverequest/change_form.html"  # the approval panel
    list_display = ("__str__", "status", "summary", "maker", "work_order_link", "created_at")
    list_filter = ("status", "content_type")
    list_select_related = ("maker", "content_type")
    search_fields = ("target_label",)
    fields = ("target_label", "status", "changes", "applied_at_once", "maker", "reason", "work_order_link",
              "created_at_display", "decided_at", "decided_by")
    readonly_fields = fields

    @admin.display(description="waiting change (old → new)")
    def summary(self, obj):
        return obj.summary() or "—"

    @admin.display(description="work order")
    def work_order_link(self, obj):
        if not obj.work_order_id:
            return "—"
        return format_html('<a href="{}">WO{}</a>', reverse("admin:approvals_workorder_change",
                                                            args=[obj.work_order_id]), obj.work_order_id)

    @admin.display(description="created at", ordering="created_at")
    def created_at_display(self, obj):
        return when_text(obj.created_at)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from approvals.selectors import approval_panel

        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None and obj.work_order_id:
            extra_context["approval_panel"] = approval_panel(obj.work_order, request.user,
                                                             next_url=request.get_full_path())
        return super().change_view(request, object_id, form_url, extra_context)
