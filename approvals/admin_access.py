"""Admin → Users and Groups: what grants access waits for a second person (work order
``atm.staff.access_change``; approvals/services/access_changes.py), what removes it applies at
once, and the list of access changes.

Django's own User and Group admins are re-registered here as subclasses (pages and fields
unchanged) whose saves route the staff / superuser / active flags, the groups and the
permissions through ``access_change_propose`` instead of writing them: the other fields (names,
e-mail) save as usual. Without the superuser flag, the customers' App accounts are not listed,
and a colleague's password is not set here (that would take over their account and its votes).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html

from approvals.models import AccessChange, access_summary
from approvals.services.access_changes import FLAGS, access_change_propose
from core.admin_tools import ReadOnlyAdminMixin, when_text
from core.errors import DomainError

CHECKERS = "Configuration checkers"
User = get_user_model()


class AccessChangeAdminMixin:
    """Saves the access fields through ``access_change_propose``; the messages say what applied
    at once and what waits for whom."""

    access_target = "user"  # or "group"

    def _propose(self, request, obj, form) -> None:
        changed = set(form.changed_data)
        kwargs: dict = {}
        if self.access_target == "user":
            flags = {name: form.cleaned_data[name] for name in FLAGS if name in changed and name in form.cleaned_data}
            if flags:
                kwargs["flags"] = flags
            if "groups" in changed:
                kwargs["groups"] = list(form.cleaned_data["groups"])
            if "user_permissions" in changed:
                kwargs["permissions"] = list(form.cleaned_data["user_permissions"])
        elif "permissions" in changed:
            kwargs["permissions"] = list(form.cleaned_data["permissions"])
        if not kwargs:
            return
        outcomes = request.__dict__.setdefault("_access_changes", [])
        try:
            outcomes.append((obj, access_change_propose(actor=request.user, reason="Changed in the admin form.",
                                                        **{self.access_target: obj}, **kwargs)))
        except DomainError as error:
            outcomes.append((obj, error))

    def save_model(self, request, obj, form, change):
        if change and self.access_target == "user":  # the flags keep their stored values here
            stored = type(obj)._default_manager.filter(pk=obj.pk).values(*FLAGS).first() or {}
            for name, value in stored.items():
                setattr(obj, name, value)
        elif not change and self.access_target == "user":  # a new account starts without access
            obj.is_staff = obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # Not form.save_m2m(): the groups and permissions are the only many-to-many fields here,
        # and they go through the access change.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        self._propose(request, form.instance, form)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        outcomes = request.__dict__.pop("_access_changes", None)
        if not outcomes or level != messages.SUCCESS:
            return super().message_user(request, message, level, *args, **kwargs)
        for obj, outcome in outcomes:
            if isinstance(outcome, DomainError):
                super().message_user(request, f"{obj}: access not changed. {outcome.detail}", messages.ERROR)
            elif outcome is None:
                super().message_user(request, f"{obj}: saved; access unchanged.", messages.INFO)
            else:
                if outcome.applied_at_once:
                    super().message_user(request, f"{obj}: removed at once (tightening): "
                                                  f"{access_summary(outcome.applied_at_once, added='−')}.",
                                         messages.SUCCESS)
                if outcome.status == AccessChange.Status.PENDING:
                    super().message_user(
                        request, f"{obj}: NOT granted yet — waiting for a second person: WO{outcome.work_order_id} "
                                 f"({outcome.summary()}). It applies when another member of {CHECKERS} approves it "
                                 f"(not you, not the account itself).", messages.WARNING)
        return None


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AccessUserAdmin(AccessChangeAdminMixin, UserAdmin):
    access_target = "user"

    def get_queryset(self, request):
        query = super().get_queryset(request)
        if not request.user.is_superuser:  # configuration admins see no customer data
            query = query.filter(customer__isnull=True)
        return query

    def user_change_password(self, request, id, form_url=""):  # noqa: A002 - Django's signature
        target = self.get_object(request, id)
        if (target is not None and not request.user.is_superuser and target.pk != request.user.pk
                and target.is_staff):
            raise PermissionDenied("A colleague's password is set by the colleague (or reset by an operator "
                                   "with the account in front of them), not here.")
        return super().user_change_password(request, id, form_url)


@admin.register(Group)
class AccessGroupAdmin(AccessChangeAdminMixin, GroupAdmin):
    access_target = "group"


@admin.register(AccessChange)
class AccessChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: requested on the User and Group pages, decided on the work order."""

    change_form_template = "admin/approvals/feereserverequest/change_form.html"  # the approval panel
    list_display = ("__str__", "status", "summary", "maker", "work_order_link", "created_at")
    list_filter = ("status",)
    list_select_related = ("maker",)
    search_fields = ("target_label",)
    fields = ("target_label", "status", "changes", "applied_at_once", "maker", "reason", "work_order_link",
              "created_at_display", "decided_at", "decided_by")
    readonly_fields = fields

    @admin.display(description="waiting grant")
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
