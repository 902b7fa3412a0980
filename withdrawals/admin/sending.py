"""Admin of the send pipeline: kill switches (global and per network) with their audit, and the
fee-reserve page (main account vs the fees of the queued withdrawals).

Every flip goes through ``chains.services.sending_pause_set`` (reason asked, audit row written,
waiting orders restarted on resume); the fee-reserve page links to the approvals app's
fee-reserve requests (main-account top-up, sub-account → main account), each a work order.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from chains.models import KillSwitchChange, Network, SendingSwitch
from chains.services import sending_pause_set
from core.admin_tools import ActionsOnlyAdminMixin, ReadOnlyAdminMixin, action_with_reason, when_text
from withdrawals.models import FeeReserveCoin, HotWalletUtxo, NetworkSendingControl
from withdrawals.selectors.fee_reserve import fee_reserve_overview


def _flip(*, network, paused: bool):
    def service(obj, actor, reason):
        if not sending_pause_set(network=network(obj), paused=paused, actor=actor, reason=reason):
            from core.errors import DomainError

            raise DomainError("invalid_transition", f"Already {'paused' if paused else 'sending'}.")

    return service


def _state_badge(paused: bool):
    """A kill switch's state in words and colour: a tick for "paused" read as "all good"."""
    if paused:
        return format_html('<b class="state-badge paused">PAUSED</b>')
    return format_html('<span class="state-sending">sending</span>')


class FlipKillSwitchMixin:
    """Pausing or resuming sending needs ``chains.flip_kill_switch`` (not a change permission)."""

    def has_flip_kill_switch_permission(self, request) -> bool:
        return request.user.has_perm("chains.flip_kill_switch")


@admin.register(SendingSwitch)
class SendingSwitchAdmin(FlipKillSwitchMixin, ActionsOnlyAdminMixin, admin.ModelAdmin):
    """The global kill switch: one row; pause or resume all sending, with a reason."""

    list_display = ("switch", "state", "reason", "changed_by", "changed_at_display")
    list_display_links = None
    actions = [
        action_with_reason(name="pause_all", description="PAUSE sending on all networks",
                           service=_flip(network=lambda obj: None, paused=True), done="Paused everywhere",
                           permissions=("flip_kill_switch",)),
        action_with_reason(name="resume_all", description="Resume sending on all networks",
                           service=_flip(network=lambda obj: None, paused=False), done="Resumed everywhere",
                           permissions=("flip_kill_switch",)),
    ]

    def changelist_view(self, request, extra_context=None):
        SendingSwitch.objects.get_or_create(pk=1)
        extra_context = {"title": "Global kill switch: select it, then choose Pause or Resume",
                         **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="switch")
    def switch(self, obj) -> str:
        return "All networks"

    @admin.display(description="state")
    def state(self, obj):
        return _state_badge(obj.sending_paused)

    @admin.display(description="changed at", ordering="changed_at")
    def changed_at_display(self, obj) -> str:
        return when_text(obj.changed_at)


@admin.register(NetworkSendingControl)
class NetworkSendingControlAdmin(FlipKillSwitchMixin, ActionsOnlyAdminMixin, admin.ModelAdmin):
    """Per-network kill switches, with a reason for each flip."""

    list_display = ("code", "name", "state", "last_reason", "last_changed", "all_networks")
    list_display_links = None
    ordering = ("code",)
    actions = [
        action_with_reason(name="pause_networks", description="PAUSE sending on the selected networks",
                           service=_flip(network=lambda obj: obj, paused=True), done="Paused",
                           permissions=("flip_kill_switch",)),
        action_with_reason(name="resume_networks", description="Resume sending on the selected networks",
                           service=_flip(network=lambda obj: obj, paused=False), done="Resumed",
                           permissions=("flip_kill_switch",)),
    ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Network kill switches: select networks, then choose Pause or Resume",
                         "global_paused": SendingSwitch.objects.filter(pk=1, sending_paused=True).exists(),
                         **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        last = KillSwitchChange.objects.filter(network=OuterRef("pk")).order_by("-at", "-id")
        return super().get_queryset(request).annotate(
            last_flip_reason=Subquery(last.values("reason")[:1]), last_flip_at=Subquery(last.values("at")[:1]),
            last_flip_paused=Subquery(last.values("paused")[:1]),
            last_flip_by=Subquery(last.values("actor__username")[:1]))

    @admin.display(description="sending", ordering="sending_paused")
    def state(self, obj):
        return _state_badge(obj.sending_paused)

    @admin.display(description="why (last flip)")
    def last_reason(self, obj) -> str:
        return getattr(obj, "last_flip_reason", None) or "—"

    @admin.display(description="last flip")
    def last_changed(self, obj) -> str:
        at = getattr(obj, "last_flip_at", None)
        if at is None:
            return "never flipped"
        return (f"{'paused' if obj.last_flip_paused else 'resumed'} by {obj.last_flip_by or 'system'}, "
                f"{when_text(at)}")

    @admin.display(description="global switch")
    def all_networks(self, obj):
        if SendingSwitch.objects.filter(pk=1, sending_paused=True).exists():
            return _state_badge(True)
        return "not paused"


@admin.register(KillSwitchChange)
class KillSwitchChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who flipped which kill switch, when and why. Read-only."""

    list_display = ("at_display", "scope", "flip", "actor", "reason")
    list_display_links = None
    list_filter = ("paused", "network")
    list_select_related = ("network", "actor")

    @admin.display(description="at", ordering="at")
    def at_display(self, obj) -> str:
        return when_text(obj.at)

    @admin.display(description="switch")
    def scope(self, obj) -> str:
        return obj.network.code if obj.network_id else "ALL networks"

    @admin.display(description="flip", ordering="paused")
    def flip(self, obj):
        return _state_badge(True) if obj.paused else format_html('<span class="text-ok">resumed</span>')


@admin.register(FeeReserveCoin)
class FeeReserveAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Main account vs the network fees the queued withdrawals will need (withdrawals.selectors.fee_reserve)."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        lines = fee_reserve_overview()
        short = [line for line in lines if line.short]
        if short:
            self.message_user(request, "The main account is short for: " + ", ".join(
                f"{line.tenant} {line.currency} (missing {line.missing.normalize():f})" for line in short),
                messages.WARNING)
        request_url = None
        try:
            request_url = reverse("admin:approvals_feereserverequest_add")
        except Exception:  # noqa: BLE001 - approvals' admin not installed
            pass
        awaiting_url = reverse("admin:withdrawals_withdrawalorder_changelist") + "?status__exact=awaiting_fee"
        # A queued order on a paused network waits for the kill switch, not for fees: say so here.
        paused = list(Network.objects.filter(sending_paused=True).order_by("code").values_list("code", flat=True))
        if SendingSwitch.objects.filter(pk=1, sending_paused=True).exists():
            paused = ["ALL networks (global switch)"]
        return TemplateResponse(request, "admin/chains/fee_reserve.html", {
            **self.admin_site.each_context(request), **(extra_context or {}),
            "title": "Fee reserve", "lines": lines, "opts": self.model._meta,
            "request_url": request_url, "requests_url": _safe_reverse("admin:approvals_feereserverequest_changelist"),
            "awaiting_url": awaiting_url, "paused_networks": paused,
            "kill_switch_url": _safe_reverse("admin:withdrawals_networksendingcontrol_changelist") if any(
                request.user.has_perm(f"chains.{p}_networksendingcontrol") for p in ("view", "change")) else None,
        })

    def has_view_permission(self, request, obj=None):
        user = request.user
        return user.is_active and user.is_staff and (
            user.has_perm("withdrawals.view_feereservecoin") or user.has_perm("approvals.view_feereserverequest"))


def _safe_reverse(name: str) -> str | None:
    try:
        return reverse(name)
    except Exception:  # noqa: BLE001
        return None


@admin.register(HotWalletUtxo)
class HotWalletUtxoAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The BTC hot wallet's outputs as the console tracks them (synced by chains.utxo_sync).
    Read-only: signing reserves them, confirmation spends them."""

    list_display = ("outpoint", "network", "address", "value_sat", "status", "reserved_by", "updated_at")
    list_filter = ("network", "status")
    search_fields = ("txid", "address", "spent_txid")
    list_select_related = ("network", "reserved_by")

    @admin.display(description="outpoint")
    def outpoint(self, obj) -> str:
        return f"{obj.txid[:12]}…:{obj.vout}"
