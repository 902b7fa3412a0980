"""Admin for the chain reference data. Actions call the services; validation is the model's
``clean()`` (run by the admin form) backed by database constraints."""


from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import QuerySet

from chains.adapters import TransientChainError
from chains.models import Coin, Currency, Network
from chains.services import coin_chain_problem, coin_refresh_fee_estimate, coin_set_enabled, sending_pause_set
from core.admin_tools import FreshSecondFactorMixin, action_with_reason, amount_text, when_text
from core.errors import DomainError


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "decimals")
    search_fields = ("code", "name")
    ordering = ("code",)


class CoinInline(admin.TabularInline):
    model = Coin
    fk_name = "network"
    fields = ("currency", "enabled", "min_display", "max_display", "daily_limit_display", "customer_fee_display",
              "confirmations")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("currency")

    @admin.display(description="minimum")
    def min_display(self, obj: Coin) -> str:
        return amount_text(obj.min_amount, obj.currency.code)

    @admin.display(description="maximum")
    def max_display(self, obj: Coin) -> str:
        return amount_text(obj.max_amount, obj.currency.code)

    @admin.display(description="daily limit")
    def daily_limit_display(self, obj: Coin) -> str:
        return amount_text(obj.daily_limit, obj.currency.code)

    @admin.display(description="customer fee")
    def customer_fee_display(self, obj: Coin) -> str:
        return amount_text(obj.customer_fee, obj.currency.code)


@admin.register(Network)
class NetworkAdmin(FreshSecondFactorMixin, admin.ModelAdmin):
    list_display = ("code", "name", "kind", "native_currency", "confirmations", "sending_paused", "rpc_display")
    list_filter = ("kind", "sending_paused")
    search_fields = ("code", "name")
    list_select_related = ("native_currency",)
    ordering = ("code",)
    actions = ("pause_sending", "resume_sending")
    inlines = (CoinInline,)
    readonly_fields = ("sending_paused",)  # flipped only by the audited actions, with a reason
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "native_currency", "confirmations", "sending_paused")}),
        ("Node", {"fields": ("rpc_url", "chain_id", "address_network")}),
    )

    @admin.display(description="RPC")
    def rpc_display(self, obj: Network) -> str:
        return obj.rpc_url or "(from environment)"

    pause_sending = action_with_reason(
        name="pause_sending", description="Pause sending on the selected networks (kill switch)",
        service=lambda network, actor, reason: _flip(network, actor, reason, paused=True),
        done="Sending paused (orders wait, nothing is lost)", permissions=("flip_kill_switch",))
    resume_sending = action_with_reason(
        name="resume_sending", description="Resume sending on the selected networks",
        service=lambda network, actor, reason: _flip(network, actor, reason, paused=False),
        done="Sending resumed (waiting orders are queued)", permissions=("flip_kill_switch",))

    def has_flip_kill_switch_permission(self, request) -> bool:
        return request.user.has_perm("chains.flip_kill_switch")


def _flip(network: Network, actor, reason: str, *, paused: bool) -> None:
    sending_pause_set(network=network, paused=paused, actor=actor, reason=reason)


@admin.register(Coin)
class CoinAdmin(FreshSecondFactorMixin, admin.ModelAdmin):
    list_display = ("__str__", "enabled", "min_display", "max_display", "daily_limit_display", "customer_fee_display",
                    "confirmations", "fee_estimate_display", "fee_estimated_at_display")
    list_display_links = ("__str__",)
    list_filter = ("network", "currency", "enabled")
    search_fields = ("currency__code", "currency__name", "network__code", "contract_address")
    list_select_related = ("currency", "network", "fee_currency")
    ordering = ("currency__code", "network__code")
    # ``enabled`` is flipped only by the Enable / Disable actions (chains.enable_coin, audited).
    readonly_fields = ("enabled", "fee_estimate_display", "fee_estimated_at_display")
    actions = ("enable", "disable", "refresh_fee_estimate")
    fieldsets = (
        (None, {"fields": ("currency", "network", "contract_address", "enabled")}),
        ("Withdrawal settings", {
            "fields": ("decimals", "chain_decimals", "min_amount", "max_amount", "daily_limit", "customer_fee",
                       "confirmations"),
            "description": "Amounts in the coin's currency, with at most the coin's decimals (precision), which "
                           "are at most the chain decimals (the token contract's decimals(), checked against the "
                           "chain on save). Neither may change while a withdrawal of the coin is not finished. "
                           "The minimum must not exceed the maximum or the daily limit.",
        }),
        ("Network fee", {
            "fields": ("fee_currency", "fee_cap", "fee_estimate_display", "fee_estimated_at_display"),
            "description": "Paid from the tenant's main account in the network's native currency; "
                           "the estimate is refreshed from the chain every minute.",
        }),
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        """Amount inputs show the stored value without the 18 trailing zeros (same value, exact)."""
        form_class = super().get_form(request, obj, change, **kwargs)

        class PlainAmountsForm(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                for name in ("min_amount", "max_amount", "daily_limit", "customer_fee", "fee_cap"):
                    value = self.initial.get(name)
                    if isinstance(value, Decimal):
                        self.initial[name] = format(value.normalize(), "f")

            def _post_clean(self):
                """After the model's own checks: the chain must confirm the coin (chain id, the
                token's decimals). A node that does not answer blocks only an enabled coin."""
                super()._post_clean()
                coin = self.instance
                if self.errors or not coin.network_id or coin.chain_decimals is None:
                    return
                try:
                    problem = coin_chain_problem(coin=coin)
                except TransientChainError as error:
                    problem = (f"the {coin.network.code} node could not confirm the coin's settings ({error}); "
                               "save it disabled and enable it when the node answers") if coin.enabled else ""
                if problem:
                    self.add_error("chain_decimals" if "decimals" in problem else None, f"Refused: {problem}")

        PlainAmountsForm.__name__ = form_class.__name__
        return PlainAmountsForm

    @admin.display(description="minimum", ordering="min_amount")
    def min_display(self, obj: Coin) -> str:
        return amount_text(obj.min_amount, obj.currency.code)

    @admin.display(description="maximum", ordering="max_amount")
    def max_display(self, obj: Coin) -> str:
        return amount_text(obj.max_amount, obj.currency.code)

    @admin.display(description="daily limit", ordering="daily_limit")
    def daily_limit_display(self, obj: Coin) -> str:
        return amount_text(obj.daily_limit, obj.currency.code)

    @admin.display(description="customer fee", ordering="customer_fee")
    def customer_fee_display(self, obj: Coin) -> str:
        return amount_text(obj.customer_fee, obj.currency.code)

    @admin.display(description="network fee estimate", ordering="network_fee_estimate")
    def fee_estimate_display(self, obj: Coin) -> str:
        return amount_text(obj.network_fee_estimate, obj.fee_currency.code if obj.fee_currency_id else "")

    @admin.display(description="estimated at", ordering="network_fee_estimated_at")
    def fee_estimated_at_display(self, obj: Coin) -> str:
        return when_text(obj.network_fee_estimated_at)

    def has_enable_coin_permission(self, request) -> bool:
        return request.user.has_perm("chains.enable_coin")

    @admin.action(description="Enable the selected coins for withdrawal", permissions=["enable_coin"])
    def enable(self, request, queryset: QuerySet[Coin]) -> None:
        changed = []
        for coin in queryset.select_related(*self.list_select_related):
            try:
                if coin_set_enabled(coin=coin, enabled=True, actor=request.user):
                    changed.append(str(coin))
            except DomainError as error:  # no fee cap, the chain disagrees: nothing changed
                self.message_user(request, f"{coin} not enabled: {error.detail}", messages.ERROR)
        self.message_user(request, f"Enabled: {', '.join(changed) or 'nothing changed'}.")

    @admin.action(description="Disable the selected coins for withdrawal", permissions=["enable_coin"])
    def disable(self, request, queryset: QuerySet[Coin]) -> None:
        changed = [str(c) for c in queryset.select_related(*self.list_select_related)
                   if coin_set_enabled(coin=c, enabled=False, actor=request.user)]
        self.message_user(request, f"Disabled: {', '.join(changed) or 'nothing changed'}.")

    @admin.action(description="Refresh the network fee estimate from the chain", permissions=["change"])
    def refresh_fee_estimate(self, request, queryset: QuerySet[Coin]) -> None:
        for coin in queryset.select_related("currency", "network", "fee_currency"):
            before = coin.network_fee_estimated_at
            fee = coin_refresh_fee_estimate(coin=coin, timeout=10)
            if coin.network_fee_estimated_at != before:
                self.message_user(request, f"{coin}: {fee} {coin.fee_currency.code}.")
            else:
                self.message_user(request, f"{coin}: the node did not answer; the estimate is unchanged.",
                                  messages.WARNING)

