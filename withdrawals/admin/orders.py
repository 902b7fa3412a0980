"""Admin for withdrawal orders: read-only records; every move goes through a service.

The list holds at a million orders (core.admin_paging, docs/PERFORMANCE.md): capped counts, no
date hierarchy, index-backed search (order id, tx hash, address, customer: exact or prefix) and
the filters staff use. The order page carries one timeline (withdrawals.selectors.timeline) and
the actions allowed now as buttons."""

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_paging import MillionRowListMixin
from core.admin_tools import (
    ReadOnlyInline,
    ReasonForm,
    action_with_reason,
    amount_text,
    key_value_table,
    run_service_per_object,
    when_text,
)
from withdrawals.admin.travel_rule import travel_rule_capture_view
from withdrawals.models import WithdrawalOrder, WithdrawalStatusChange, WithdrawalTransaction
from withdrawals.pipeline.staff import withdrawal_fee_bump_queue, withdrawal_rebroadcast_queue
from withdrawals.selectors.timeline import withdrawal_timeline
from withdrawals.services.orders import withdrawal_resubmit, withdrawal_staff_reject
from withdrawals.services.review import withdrawal_resolution_open


class ResolutionForm(ReasonForm):
    outcome = forms.ChoiceField(
        choices=[("failed", "Failed: release the hold (refused while any of its transactions is on the node)"),
                 ("completed", "Completed: credited (refused unless one of its transactions is confirmed at depth)")],
        widget=forms.RadioSelect, help_text="Two Treasury members other than you approve it; the chain is "
                                            "checked again before it is applied.")


class _OrderPartInline(ReadOnlyInline):
    """A part of the order (history, transactions): whoever may view the order sees it, without a
    separate permission on the part's own model (else the page silently drops it)."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("withdrawals.view_withdrawalorder") or super().has_view_permission(request, obj)


class StatusHistoryInline(_OrderPartInline):
    model = WithdrawalStatusChange
    fields = ("at_display", "move", "actor", "reason")
    readonly_fields = fields
    verbose_name_plural = "Status history (who, when, from, to, why)"

    @admin.display(description="at")
    def at_display(self, obj):
        return when_text(obj.at)

    @admin.display(description="from → to")
    def move(self, obj):
        labels = dict(WithdrawalOrder.Status.choices)
        before = labels.get(obj.from_status, obj.from_status) if obj.from_status else "—"
        return f"{before} → {labels.get(obj.to_status, obj.to_status)}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class TransactionInline(_OrderPartInline):
    model = WithdrawalTransaction
    fields = ("created_display", "tx_hash", "state", "nonce", "max_fee_display", "fee_bump", "send_attempts",
              "meta_display")
    readonly_fields = fields
    verbose_name_plural = "Signed transactions (stored before sending; a fee bump adds a candidate)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order__coin__fee_currency")

    @admin.display(description="signed at")
    def created_display(self, obj):
        return when_text(obj.created_at)

    @admin.display(description="max fee")
    def max_fee_display(self, obj):
        return amount_text(obj.max_fee, obj.order.coin.fee_currency.code)

    @admin.display(description="details")
    def meta_display(self, obj):
        if not obj.meta:
            return "—"
        return format_html_join(format_html("<br>"), "{}: {}", ((k, v) for k, v in obj.meta.items()))


class StuckFilter(admin.SimpleListFilter):
    """Sent but not included for PIPELINE_STUCK_AFTER_SECONDS: candidates for "Bump fee"."""

    title = "on chain"
    parameter_name = "chain"

    def lookups(self, request, model_admin):
        return [("stuck", "Stuck (sent, not included) — may need a fee bump"),
                ("nonce_gap", "Nonce gap (dropped, later ones wait) — rebroadcast"), ("waiting", "Awaiting fee"),
                ("review", "Review required — the chain has not decided")]

    def queryset(self, request, queryset):
        from withdrawals.pipeline.delays import stuck_after

        if self.value() == "stuck":  # as withdrawal_stuck_since: the newest live candidate is old
            live = ["signed", "sent"]
            cutoff = timezone.now() - stuck_after()
            return (queryset.filter(status__in=["broadcasting", "confirming"], confirmations=0,
                                    transactions__state__in=live, transactions__created_at__lte=cutoff)
                    .exclude(transactions__state__in=live, transactions__created_at__gt=cutoff).distinct())
        if self.value() == "nonce_gap":  # asks the nodes (reads only): see withdrawals.selectors.nonce_gaps
            from chains.adapters import TransientChainError
            from withdrawals.selectors.nonce_gaps import nonce_gap_order_ids

            try:
                return queryset.filter(pk__in=nonce_gap_order_ids())
            except TransientChainError as error:
                from django.contrib import messages

                messages.warning(request, f"Nonce gaps could not be read from the node: {error}")
                return queryset.none()
        if self.value() == "waiting":
            return queryset.filter(status="awaiting_fee")
        if self.value() == "review":
            return queryset.filter(status="review_required")
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long ago the order was requested."""

    title = "requested"
    parameter_name = "age"
    BANDS = {"1h": (None, timedelta(hours=1)), "1d": (timedelta(hours=1), timedelta(days=1)),
             "7d": (timedelta(days=1), timedelta(days=7)), "old": (timedelta(days=7), None)}

    def lookups(self, request, model_admin):
        return [("1h", "Under 1 hour ago"), ("1d", "1 to 24 hours ago"), ("7d", "1 to 7 days ago"),
                ("old", "Over 7 days ago")]

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


class InStateOverFilter(admin.SimpleListFilter):
    """In its current state for longer than N minutes (the desk's "late" links give any N)."""

    title = "in its state for over"
    parameter_name = "in_state_over"

    def lookups(self, request, model_admin):
        choices = [("10", "10 minutes"), ("60", "1 hour"), ("1440", "1 day")]
        if self.value() and self.value() not in dict(choices):
            choices.append((self.value(), f"{self.value()} minutes"))
        return choices

    def queryset(self, request, queryset):
        try:
            minutes = int(self.value() or "")
        except ValueError:
            return queryset
        from django.db.models import OuterRef, Subquery

        entered = Subquery(WithdrawalStatusChange.objects.filter(order=OuterRef("pk"), to_status=OuterRef("status"))
                           .order_by("-at", "-id").values("at")[:1])
        open_states = [s for s in WithdrawalOrder.Status.values if s not in WithdrawalOrder.TERMINAL]
        return (queryset.filter(status__in=open_states).annotate(entered_state=entered)
                .filter(entered_state__lt=timezone.now() - timedelta(minutes=minutes)))


class CompletedFilter(admin.SimpleListFilter):
    title = "completed"
    parameter_name = "completed"

    def lookups(self, request, model_admin):
        return [("today", "Today"), ("24h", "In the last 24 hours")]

    def queryset(self, request, queryset):
        if self.value() == "today":
            since = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        elif self.value() == "24h":
            since = timezone.now() - timedelta(hours=24)
        else:
            return queryset
        return queryset.filter(completed_at__gte=since)


class AmountFilter(admin.SimpleListFilter):
    """An amount range in the coin's unit: a band, or any "min-max" typed in the box ("-5", "100-")."""

    title = "amount"
    parameter_name = "amount"
    template = "admin/desk/amount_filter.html"

    def lookups(self, request, model_admin):
        choices = [("-1", "Under 1"), ("1-1000", "1 to 1,000"), ("1000-100000", "1,000 to 100,000"),
                   ("100000-", "Over 100,000")]
        if self.value() and self.value() not in dict(choices):
            choices.append((self.value(), self.value()))
        return choices

    def choices(self, changelist):
        yield from super().choices(changelist)
        hidden = []
        for key, value in changelist.params.items():
            if key != self.parameter_name:
                hidden += [(key, v) for v in (value if isinstance(value, list) else [value])]
        yield {"form": True, "hidden": hidden, "value": self.value() or ""}

    def queryset(self, request, queryset):
        low, _, high = (self.value() or "").partition("-")
        try:
            if low.strip():
                queryset = queryset.filter(amount__gte=Decimal(low.strip()))
            if high.strip():
                queryset = queryset.filter(amount__lt=Decimal(high.strip()))
        except InvalidOperation:
            return queryset.none()
        return queryset


class CustomerFilter(admin.SimpleListFilter):
    """One customer's orders (?customer=<id>, linked from the customer and the order pages)."""

    title = "customer"
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        return [(self.value(), f"Customer #{self.value()}")] if self.value() else []  # shown while applied

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(customer_id=int(self.value()))
        return queryset


HASH_LIKE = re.compile(r"^(0x)?[0-9a-fA-F]{8,}$")
ORDER_ID = re.compile(r"^[Ww]?(\d{1,18})$")
PREFIX_MIN = 4  # shorter terms match exactly only


def order_search_q(term: str):
    """Search by order id (W123), tx hash (any candidate's), destination address or customer
    (reference, username), each exact or by prefix: every branch is an index scan, OR-ed in one
    bitmap scan of the orders table; two small look-ups first (candidates, customers)."""
    from django.db.models import Q

    from customers.models import Customer

    term = term.strip()
    if not term:
        return Q()
    q = Q(pk__in=[])
    if match := ORDER_ID.match(term):
        q |= Q(pk=int(match.group(1)))
    terms = {term, term.lower()} if HASH_LIKE.match(term) else {term}
    prefix = len(term) >= PREFIX_MIN
    for t in terms:
        q |= Q(tx_hash__startswith=t) | Q(destination__startswith=t) if prefix else Q(tx_hash=t) | Q(destination=t)
    if HASH_LIKE.match(term) and prefix:
        candidates = Q()
        for t in terms:
            candidates |= Q(tx_hash__startswith=t)
        ids = list(WithdrawalTransaction.objects.filter(candidates).values_list("order_id", flat=True)[:1000])
        if ids:
            q |= Q(pk__in=ids)
    people = (Q(reference__startswith=term) | Q(user__username__startswith=term)) if prefix else \
        (Q(reference=term) | Q(user__username=term))
    customer_ids = list(Customer.objects.filter(people).values_list("pk", flat=True)[:200])
    if customer_ids:
        q |= Q(customer_id__in=customer_ids)
    return q


ACTIONS_NOW = {  # the order page's buttons: the list action and the states it applies in
    "reject_before_sending": ("Reject", ("pending_approval", "approved", "awaiting_fee")),
    "resubmit_after_topup": ("Resubmit after a top-up", ("awaiting_fee",)),
    "bump_fee": ("Bump fee", ("broadcasting", "confirming")),
    "rebroadcast": ("Rebroadcast", ("broadcasting", "confirming")),
    "open_resolution": ("Open resolution", ("review_required",)),
}


@admin.register(WithdrawalOrder)
class WithdrawalOrderAdmin(MillionRowListMixin, admin.ModelAdmin):
    change_form_template = "admin/withdrawals/withdrawalorder/change_form.html"
    list_display = ("id", "customer", "coin", "amount_display", "status_badge", "confirmations_display", "short_tx",
                    "created_display")
    list_filter = (StuckFilter, "status", "coin__network", "coin", AmountFilter, AgeFilter, InStateOverFilter,
                   CompletedFilter, CustomerFilter)
    search_fields = ("id",)  # the search box; order_search_q decides what it matches
    search_help_text = ("Order id (W123), transaction hash, destination address or customer (reference or "
                        "username): exact, or the beginning of it (4 characters or more).")
    list_select_related = ("customer__user", "coin__currency", "coin__network")
    sortable_by = ("id", "created_display")  # other orders would sort every matching row
    inlines = [StatusHistoryInline, TransactionInline]
    actions = ["reject_before_sending", "resubmit_after_topup", "bump_fee", "rebroadcast", "open_resolution"]
    fieldsets = (
        ("Request", {"fields": ("customer", "coin", "address", "destination", "amount_display",
                                "customer_fee_display", "network_fee_estimate_display", "split_display",
                                "travel_rule_display", "created_display")}),
        ("Status", {"fields": ("status", "last_error", "updated_display", "completed_display")}),
        ("On chain", {"fields": ("tx_hash", "confirmations_display", "block_number", "block_hash",
                                 "fee_reserved_display", "fee_paid_display")}),
        ("Related", {"fields": ("work_order_link", "ledger_link")}),
    )
    readonly_fields = ("customer", "coin", "address", "destination", "amount_display", "customer_fee_display",
                       "network_fee_estimate_display", "split_display", "travel_rule_display", "created_display",
                       "status", "last_error", "updated_display", "completed_display", "tx_hash",
                       "confirmations_display", "block_number", "block_hash", "fee_reserved_display",
                       "fee_paid_display", "work_order_link", "ledger_link")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(order_search_q(search_term)), False

    def get_queryset(self, request):
        from django.db.models import Exists

        from chains.models import SendingSwitch

        # The global kill switch, read once per page in the same query (status_badge says which pause holds it).
        return super().get_queryset(request).annotate(
            global_paused=Exists(SendingSwitch.objects.filter(pk=1, sending_paused=True)))

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("<int:pk>/travel-rule/", view(lambda request, pk: travel_rule_capture_view(self, request, pk)),
                 name="withdrawals_withdrawalorder_travel_rule"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The order page carries the work order's approval panel: steps, decisions, buttons."""
        from approvals.selectors import approval_panel, work_order_for_subject

        order = self.get_object(request, object_id)
        work_order = work_order_for_subject(order) if order else None
        panel = approval_panel(work_order, request.user, next_url=request.get_full_path())
        extra_context = {**(extra_context or {}), "approval_panel": panel,
                         "timeline": withdrawal_timeline(order) if order else [],
                         "actions_now": self.actions_now(request, order) if order else [],
                         "held_by": self.held_by(order) if order else "",
                         # every field is read-only: no Save buttons that save nothing
                         "show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        if order is not None:
            extra_context["title"] = "Withdrawal order"
            extra_context["subtitle"] = (f"W{order.pk} — {amount_text(order.amount, order.coin.currency.code)} on "
                                         f"{order.coin.network.code} · {order.get_status_display()}")
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Withdrawal orders", **(extra_context or {})})

    def actions_now(self, request, order) -> list[dict]:
        """The actions this member may run on this order in its current state (buttons; each posts
        to the list's action, which asks for a reason and calls the service)."""
        allowed = self.get_actions(request)
        return [{"name": name, "label": label} for name, (label, states) in ACTIONS_NOW.items()
                if name in allowed and order.status in states]

    @staticmethod
    def held_by(order) -> str:
        """Which kill switch holds the order, if any: the global one or its network's."""
        if order.status not in ("approved", "awaiting_fee", "broadcasting"):
            return ""
        if getattr(order, "global_paused", False):
            return "Held: sending is paused on ALL networks (global switch)"
        if order.coin.network.sending_paused:
            return f"Held: sending is paused on {order.coin.network.code}"
        return ""

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # orders come from the App

    def has_delete_permission(self, request, obj=None):
        return False

    # --- how staff read the fields --------------------------------------------------------------
    @admin.display(description="amount")
    def amount_display(self, obj):
        return amount_text(obj.amount, obj.coin.currency.code)

    @admin.display(description="customer fee")
    def customer_fee_display(self, obj):
        return amount_text(obj.customer_fee, obj.coin.currency.code)

    @admin.display(description="network fee estimate")
    def network_fee_estimate_display(self, obj):
        return amount_text(obj.network_fee_estimate, obj.coin.fee_currency.code)

    @admin.display(description="fee reserved (main account)")
    def fee_reserved_display(self, obj):
        return amount_text(obj.fee_reserved, obj.coin.fee_currency.code) if obj.fee_reserved else "—"

    @admin.display(description="fee paid on chain")
    def fee_paid_display(self, obj):
        return amount_text(obj.fee_paid, obj.coin.fee_currency.code)

    @admin.display(description="held on instruments")
    def split_display(self, obj):
        """The instruments the amount + fee is held on (SPEC: largest balance first)."""
        if not obj.split:
            return "—"
        unit = obj.coin.currency.code
        rows = format_html_join("", '<tr><td>{}</td><td class="num">{}</td></tr>',
                                ((part.get("instrument", "?"), amount_text(_dec(part.get("amount")), unit))
                                 for part in obj.split))
        return format_html('<table class="kv"><tr><th>Instrument</th><th class="num">Held</th></tr>{}</table>', rows)

    @admin.display(description="travel rule")
    def travel_rule_display(self, obj):
        data = obj.travel_rule
        if not data:
            return "— (not captured)"
        originator, beneficiary = data.get("originator") or {}, data.get("beneficiary") or {}
        vasp = (data.get("beneficiary_vasp") or {}).get("name") or ""
        rows = [("Originator", originator.get("name", "")), ("Originator account", originator.get("account", "")),
                ("Beneficiary", beneficiary.get("name", "")),
                ("Beneficiary address", beneficiary.get("address", "")),
                ("Beneficiary VASP", vasp or ("self-hosted wallet" if data.get("self_hosted") else "—"))]
        return key_value_table(rows)

    @admin.display(description="created at", ordering="created_at")
    def created_display(self, obj):
        return when_text(obj.created_at)

    @admin.display(description="updated at")
    def updated_display(self, obj):
        return when_text(obj.updated_at)

    @admin.display(description="completed at")
    def completed_display(self, obj):
        return when_text(obj.completed_at)

    @admin.display(description="work order")
    def work_order_link(self, obj):
        from approvals.selectors import work_order_for_subject

        work_order = work_order_for_subject(obj)
        if work_order is None:
            return "—"
        url = reverse("admin:approvals_workorder_change", args=[work_order.pk])
        return format_html('<a href="{}">WO{}</a> ({})', url, work_order.pk, work_order.get_status_display())

    @admin.display(description="ledger")
    def ledger_link(self, obj):
        """The journal entries this order posted (their references are withdrawal:<id>:…)."""
        url = reverse("admin:ledger_journalentry_changelist") + f"?q=withdrawal:{obj.pk}:"  # a prefix search
        return format_html('<a href="{}">Journal entries of W{}</a> (hold, release / settle, fees)', url, obj.pk)

    @admin.display(description="status")
    def status_badge(self, obj):
        waiting = self.held_by(obj)  # a kill switch holds it: which one
        if waiting:
            return format_html('<b class="wd-status {}">{}</b><br><small class="text-bad">{}</small>', obj.status,
                               obj.get_status_display(), waiting)
        # The colours are classes of console/console.css (the CSP allows no style attribute).
        return format_html('<b class="wd-status {}">{}</b>', obj.status, obj.get_status_display())

    @admin.display(description="confirmations")
    def confirmations_display(self, obj):
        return f"{obj.confirmations} of {obj.coin.confirmations}" if obj.tx_hash else "—"

    @admin.display(description="tx")
    def short_tx(self, obj):
        return f"{obj.tx_hash[:10]}…" if obj.tx_hash else "—"

    # Pending approval: recorded as the actor's decision on the work order (its group decides).
    reject_before_sending = action_with_reason(
        name="reject_before_sending",
        description="Reject (pending: as your work-order decision; approved or awaiting fee: before sending)",
        service=lambda order, actor, reason: withdrawal_staff_reject(order=order, actor=actor, reason=reason),
        done="Rejected and released", permissions=("reject",))

    bump_fee = action_with_reason(
        name="bump_fee",
        description="Bump fee (a transaction stuck unconfirmed: same nonce / RBF, higher fee)",
        service=lambda order, actor, reason: withdrawal_fee_bump_queue(order=order, actor=actor, reason=reason),
        done="Fee bump queued (a worker signs and sends the replacement; a refusal shows as the order's last "
             "error)", permissions=("bump_fee",))

    rebroadcast = action_with_reason(
        name="rebroadcast",
        description="Rebroadcast (re-send the stored transactions as they are: a dropped one holding later "
                    "nonces back)",
        service=lambda order, actor, reason: withdrawal_rebroadcast_queue(order=order, actor=actor, reason=reason),
        done="Rebroadcast queued (the same signed bytes; nothing is signed)", permissions=("bump_fee",))

    @admin.action(description="Open resolution (review required: proposed outcome and reason, two approvals)",
                  permissions=["resolve"])
    def open_resolution(self, request, queryset):
        if "apply" in request.POST:
            form = ResolutionForm(request.POST)
            if form.is_valid():
                outcome, reason = form.cleaned_data["outcome"], form.cleaned_data["reason"]
                run_service_per_object(
                    self, request, queryset,
                    lambda order: withdrawal_resolution_open(order=order, outcome=outcome, actor=request.user,
                                                             reason=reason), "Resolution work order opened")
                return None
        else:
            form = ResolutionForm()
        return TemplateResponse(request, "admin/action_reason.html", {
            **self.admin_site.each_context(request), "title": "Open resolution", "objects": queryset,
            "form": form, "action": "open_resolution", "opts": self.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)})

    def has_reject_permission(self, request):
        return request.user.has_perm("withdrawals.reject_withdrawal")

    def has_bump_fee_permission(self, request):
        return request.user.has_perm("withdrawals.bump_fee")

    def has_resolve_permission(self, request):
        return request.user.has_perm("withdrawals.resolve_withdrawal")

    @admin.action(description='Resubmit ("Insufficient main account fees" resolved)',
                  permissions=["resubmit"])
    def resubmit_after_topup(self, request, queryset):
        run_service_per_object(self, request, queryset,
                               lambda order: withdrawal_resubmit(order=order, actor=request.user), "Resubmitted")

    def has_resubmit_permission(self, request):
        return request.user.has_perm("withdrawals.resubmit_withdrawal")


def _dec(value):
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        return None
