"""Third-party admin pages tightened for the staff roles (docs/ROLES.md): every action declares
the permission it needs, so a view-only role (the auditor) runs none of them."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask


def _needs(permission: str, base: type, name: str):
    original = getattr(base, name)

    def action(self, request, queryset):
        return original(self, request, queryset)

    action.__name__ = name
    return admin.action(description=getattr(original, "short_description", name.replace("_", " ")),
                        permissions=[permission])(action)


class PeriodicTaskRolesAdmin(PeriodicTaskAdmin):
    """django-celery-beat's actions (enable, disable, toggle, run now) need ``change_periodictask``
    instead of nothing at all."""

    enable_tasks = _needs("change", PeriodicTaskAdmin, "enable_tasks")
    disable_tasks = _needs("change", PeriodicTaskAdmin, "disable_tasks")
    toggle_tasks = _needs("change", PeriodicTaskAdmin, "toggle_tasks")
    run_tasks = _needs("change", PeriodicTaskAdmin, "run_tasks")


class AccessAttemptRolesAdmin(AccessAttemptAdmin):
    """django-axes' "clean up expired attempts" deletes rows: it needs ``delete_accessattempt``."""

    cleanup_expired_attempts = _needs("delete", AccessAttemptAdmin, "cleanup_expired_attempts")


if admin.site.is_registered(PeriodicTask):
    admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskRolesAdmin)
if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AccessAttemptRolesAdmin)


from core.admin_tools import ReadOnlyAdminMixin, when_text  # noqa: E402
from withdrawals_site.models import DeskAlert  # noqa: E402


@admin.register(DeskAlert)
class DeskAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The desk's alerts as the beat scan opened and resolved them (each with its alert event).
    What is current is on the desk itself; this is the record."""

    list_display = ("title", "kind", "opened", "resolved", "link")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("key",)
    readonly_fields = ("key", "kind", "title", "detail", "url", "payload", "opened_at", "last_seen_at", "resolved_at")

    @admin.display(description="opened", ordering="opened_at")
    def opened(self, alert):
        return when_text(alert.opened_at)

    @admin.display(description="resolved", ordering="resolved_at")
    def resolved(self, alert):
        return when_text(alert.resolved_at) if alert.resolved_at else "OPEN"

    @admin.display(description="where")
    def link(self, alert):
        from django.utils.html import format_html

        return format_html('<a href="{}">open</a>', alert.url) if alert.url else "—"
