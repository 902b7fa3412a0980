"""Admin: webhook subscriptions (the secret is written, never shown), the delivery log with its
attempts and the redeliver action, and the outbox (read only)."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages

from core.admin_tools import FreshSecondFactorMixin, ReadOnlyAdminMixin
from core.errors import DomainError
from events.kinds import event_kinds
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookSubscription
from events.services import (
    SECRET_MIN_LENGTH,
    webhook_redeliver,
    webhook_subscription_check,
    webhook_subscription_save,
)


def _kind_choices() -> list[tuple[str, str]]:
    kinds = event_kinds()
    prefixes = sorted({kind.rsplit(".", 1)[0] for kind in kinds})
    return [("*", "* (every event)"), *((f"{p}.*", f"{p}.* (every {p} event)") for p in prefixes),
            *((kind, f"{kind}: {text}") for kind, text in kinds.items())]


class WebhookSubscriptionForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(choices=_kind_choices, widget=forms.CheckboxSelectMultiple,
                                      help_text="What this receiver gets. Wildcards include kinds added later.")
    secret = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text=f"The signing secret shared with the receiver (at least {SECRET_MIN_LENGTH} characters, e.g. "
                  "<code>python -c 'import secrets; print(secrets.token_urlsafe(32))'</code>). Stored encrypted "
                  "and never shown again; leave empty to keep the current one.")

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "kinds", "secret", "active")

    def _post_clean(self):
        super()._post_clean()  # the instance now carries the form's values
        try:
            webhook_subscription_check(subscription=self.instance, secret=self.cleaned_data.get("secret", ""))
        except DomainError as error:
            self.add_error(error.field if error.field in self.fields else None, error.detail)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(FreshSecondFactorMixin, admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("name", "url", "kinds_display", "active", "secret_changed_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    readonly_fields = ("secret_state", "created_by", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        return [*self.form.Meta.fields, *self.readonly_fields]

    @admin.display(description="Kinds")
    def kinds_display(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.kinds)

    @admin.display(description="Secret")
    def secret_state(self, obj: WebhookSubscription) -> str:
        if not obj or not obj.secret_encrypted:
            return "not set"
        return f"set (encrypted), last changed {obj.secret_changed_at:%Y-%m-%d %H:%M %Z}" if obj.secret_changed_at \
            else "set (encrypted)"

    def save_model(self, request, obj, form, change):
        webhook_subscription_save(subscription=obj, secret=form.cleaned_data.get("secret", ""), actor=request.user)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "status_code", "duration_ms", "error", "response_excerpt", "requested_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "event_kind", "event_id", "subscription", "status", "attempts", "last_status_code",
                    "next_attempt_at", "delivered_at")
    list_filter = ("status", "subscription")
    list_select_related = ("event", "subscription")
    search_fields = ("=event__subject_id",)
    show_full_result_count = False
    actions = ("redeliver",)
    inlines = (WebhookAttemptInline,)
    fields = ("event", "subscription", "status", "attempts", "next_attempt_at", "window_started_at",
              "last_status_code", "last_error", "delivered_at", "created_at")
    readonly_fields = fields

    @admin.display(description="Event")
    def event_kind(self, obj: WebhookDelivery) -> str:
        return obj.event.kind

    @admin.action(description="Redeliver the selected deliveries now", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        for delivery in queryset:
            webhook_redeliver(delivery=delivery, actor=request.user)
        self.message_user(request, f"Queued again: {queryset.count()}.", messages.SUCCESS)

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("events.redeliver_webhookdelivery")

    def get_search_results(self, request, queryset, search_term):
        if event_id := _uuid(search_term):
            return queryset.filter(event_id=event_id), False
        return super().get_search_results(request, queryset, search_term)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox: every event, delivered or not (search by event id or subject id, exact)."""

    list_display = ("id", "kind", "subject_type", "subject_id", "actor", "occurred_at", "dispatched_at")
    list_select_related = ("actor",)
    search_fields = ("=subject_id", "=kind")
    show_full_result_count = False
    fields = ("id", "kind", "subject_type", "subject_id", "actor", "occurred_at", "dispatched_at", "payload")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        if event_id := _uuid(search_term):
            return queryset.filter(pk=event_id), False
        return super().get_search_results(request, queryset, search_term)
