"""Admin building blocks shared by the apps: actions that call a service with a reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.errors import DomainError
from core.second_factor import second_factor_challenge


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=True,
                             help_text="Recorded in the audit history and shown to the customer where relevant.")


def run_service_per_object(modeladmin, request, queryset, call: Callable, done: str) -> None:
    """Call a service for each selected object; report successes and each refusal by its detail."""
    succeeded = 0
    for obj in queryset:
        try:
            call(obj)
            succeeded += 1
        except DomainError as error:
            modeladmin.message_user(request, f"{obj}: {error.detail}", messages.ERROR)
    if succeeded:
        modeladmin.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)


def action_with_reason(*, name: str, description: str, service: Callable, done: str, permissions=("change",)):
    """An admin action that first asks for a reason, then calls ``service(obj, actor, reason)``."""

    @admin.action(description=description, permissions=permissions)
    def action(modeladmin, request, queryset):
        if "apply" in request.POST:
            if challenge := second_factor_challenge(request):  # a code younger than STAFF_OTP_FRESH_SECONDS
                return challenge
            form = ReasonForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                run_service_per_object(modeladmin, request, queryset,
                                       lambda obj: service(obj, request.user, reason), done)
                return None
        else:
            form = ReasonForm()
        return TemplateResponse(request, "admin/action_reason.html", {
            **modeladmin.admin_site.each_context(request),
            "title": description, "objects": queryset, "form": form, "action": name,
            "opts": modeladmin.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        })

    action.__name__ = name
    return action


class FreshSecondFactorMixin:
    """A configuration page: saving it asks for a fresh second factor (core.second_factor)."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and (challenge := second_factor_challenge(request)):
            return challenge
        return super().changeform_view(request, object_id, form_url, extra_context)


class ReadOnlyAdminMixin:
    """Records that are only ever written by services: staff may look, never add, edit or delete."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActionsOnlyAdminMixin(ReadOnlyAdminMixin):
    """A list whose actions call services (kill switches, reviews): the change permission opens the
    list's actions, but no object page edits anything."""

    def has_change_permission(self, request, obj=None):
        return obj is None and super(ReadOnlyAdminMixin, self).has_change_permission(request, obj)


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        # Shown, never a form field: a non-editable column (a recorded time) could not be one.
        return (*(self.fields or ()), *super().get_readonly_fields(request, obj))


# --- how the admin shows values ------------------------------------------------------------------

def amount_text(value: Decimal | None, unit: str = "") -> str:
    """An exact amount as staff read it: no trailing zeros, thousands grouped, with its unit
    ("0.25 ETH", "100,000 USDT"); "—" when there is none. Never rounds."""
    if value is None:
        return "—"
    text = format(Decimal(value).normalize(), ",f")
    return f"{text} {unit}".strip()


def when_text(value: datetime | None) -> str:
    """A moment with its time zone, to the second ("2026-11-22 07:38:44 UTC"); "—" when unset."""
    if value is None:
        return "—"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def key_value_table(rows: Iterable[tuple[str, object]]):
    """Labelled values as a two-column table (instead of a JSON dump); empty values show "—"."""
    body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>",
                            ((label, "—" if value in (None, "") else value) for label, value in rows))
    return format_html('<table class="kv">{}</table>', body)


# --- the recorded history of configuration rows (django-pghistory) -------------------------------


def history_value_text(value) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


class ConfigHistoryAdminMixin:
    """The object's "History" button shows its pghistory events (core.history.config_history):
    per field old → new, who (the admin user, or the service's actor), when, and the context
    (URL, reason, work order). A write without context (raw SQL, a shell) says so."""

    object_history_template = "admin/config_history.html"

    def history_extra_context(self, request, obj) -> dict:
        return {}

    def history_view(self, request, object_id, extra_context=None):
        from django.contrib.admin.utils import unquote
        from django.contrib.auth import get_user_model
        from django.core.exceptions import PermissionDenied

        from core.history import config_history_rows

        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        rows = config_history_rows(obj)
        ids = {row["user_id"] for row in rows} | {row["context"].get("proposed_by") for row in rows}
        names = dict(get_user_model().objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "username"))
        for row in rows:
            row["user"] = names.get(row["user_id"], f"user {row['user_id']}" if row["user_id"] else "")
            row["proposed_by"] = names.get(row["context"].get("proposed_by"), "")
            row["changes"] = [(name.removesuffix("_id"),
                               history_value_text(old), history_value_text(new)) for name, old, new in row["changes"]]
        context = {
            **self.admin_site.each_context(request), "title": f"History: {obj}", "subtitle": None, "object": obj,
            "opts": self.model._meta, "rows": rows, **self.history_extra_context(request, obj),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)
