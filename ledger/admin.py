"""Back-office views of the ledger: everything is read-only. Postings happen only through the
services (withdrawal flow, top-up work orders); a correction is a new entry, never an edit."""

from __future__ import annotations

import re

from django.contrib import admin, messages
from django.db.models import OuterRef, Q, Subquery, Sum
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from core.admin_paging import MillionRowListMixin, prefix_range
from core.admin_tools import ReadOnlyAdminMixin, ReadOnlyInline, amount_text, key_value_table
from core.errors import DomainError
from ledger.exports import securities_csv
from ledger.models import Account, JournalEntry, JournalLeg, SecuritiesPosting
from ledger.services import securities_mark_synced


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The ledger is append-only and written by its services: staff look, never edit."""


def _withdrawal_link(reference: str):
    """Postings of a withdrawal carry ``withdrawal:<id>:<step>``: link to the order."""
    match = re.match(r"withdrawal:(\d+):", reference or "")
    if not match:
        return None
    url = reverse("admin:withdrawals_withdrawalorder_change", args=[match.group(1)])
    return format_html('<a href="{}">W{}</a>', url, match.group(1))


class LegSidesMixin:
    """A leg's debit and credit columns as staff read them (blank on the other side)."""

    @admin.display(description="debit")
    def debit_display(self, leg: JournalLeg) -> str:
        return amount_text(leg.debit, leg.currency_id) if leg.debit is not None else ""

    @admin.display(description="credit")
    def credit_display(self, leg: JournalLeg) -> str:
        return amount_text(leg.credit, leg.currency_id) if leg.credit is not None else ""


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("customer", "A customer"), ("tenant", "The tenant")]

    def queryset(self, request, queryset):
        field = "customer" if queryset.model is Account else "account__customer"
        if self.value() == "customer":
            return queryset.filter(**{f"{field}__isnull": False})
        if self.value() == "tenant":
            return queryset.filter(**{f"{field}__isnull": True})
        return queryset


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "currency", "instrument", "kind", "balance_display", "created_at"]
    list_filter = [OwnerFilter, "tenant", "currency", "kind", "instrument", "created_at"]
    search_fields = ["customer__reference", "customer__user__username", "instrument"]
    list_select_related = ["customer", "tenant"]
    readonly_fields = ["tenant", "customer", "currency", "instrument", "kind", "normal_sign", "balance", "created_at"]
    ordering = ["tenant_id", "customer_id", "currency", "instrument", "kind"]

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj: Account) -> str:
        return amount_text(obj.balance, obj.currency_id)

    @admin.display(description="owner")
    def owner(self, obj: Account) -> str:
        return f"customer {obj.customer.reference}" if obj.customer_id else f"tenant {obj.tenant.venue_code}"


class LegInline(LegSidesMixin, ReadOnlyInline):
    model = JournalLeg
    fields = ["account", "account_kind", "instrument", "debit_display", "credit_display"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def has_view_permission(self, request, obj=None):
        # Whoever may read an entry reads its debits and credits too.
        return request.user.has_perm("ledger.view_journalentry")


    @admin.display(description="kind")
    def account_kind(self, leg: JournalLeg) -> str:
        return leg.account.get_kind_display()

    @admin.display(description="instrument")
    def instrument(self, leg: JournalLeg) -> str:
        return leg.account.instrument or "—"


@admin.register(JournalEntry)
class JournalEntryAdmin(MillionRowListMixin, ReadOnlyAdmin):
    """Millions of entries: capped counts, no date hierarchy, the customer's user fetched with the
    row, and a search on the reference's beginning (its unique index: withdrawal:42: finds the
    order's entries) or a customer reference, exactly."""

    list_display = ["id", "reference", "withdrawal", "kind", "amount", "customer", "created_at"]
    list_filter = ["kind", "currency", "tenant", "created_at"]  # by account kind: the legs list
    search_fields = ["reference"]
    search_help_text = "The beginning of a reference (e.g. withdrawal:42:), or a customer reference exactly."
    list_select_related = ["customer__user"]
    sortable_by = ["id", "created_at"]
    readonly_fields = ["reference", "withdrawal", "kind", "tenant", "customer", "currency", "request_table", "memo",
                       "created_at"]
    inlines = [LegInline]
    def get_search_results(self, request, queryset, search_term):
        from customers.models import Customer

        term = search_term.strip()
        if not term:
            return queryset, False
        customers = list(Customer.objects.filter(reference=term).values_list("pk", flat=True)[:1])
        q = Q(**prefix_range("reference", term))
        if customers:
            q |= Q(customer_id__in=customers)
        return queryset.filter(q), False

    def get_queryset(self, request):
        # The entry's size: what its debits add up to (= its credits). A subquery, so that a search
        # joining the legs again cannot multiply the sum.
        debits = (JournalLeg.objects.filter(entry=OuterRef("pk"), amount__gt=0).order_by()
                  .values("entry").annotate(total=Sum("amount")).values("total"))
        return super().get_queryset(request).annotate(debits=Subquery(debits))

    @admin.display(description="amount", ordering="debits")
    def amount(self, entry: JournalEntry) -> str:
        return amount_text(entry.debits, entry.currency_id)

    @admin.display(description="withdrawal")
    def withdrawal(self, entry: JournalEntry):
        return _withdrawal_link(entry.reference) or "—"

    @admin.display(description="request")
    def request_table(self, entry: JournalEntry):
        """What the posting service was asked (kept to refuse a reused reference with other amounts)."""
        return key_value_table((key.replace("_", " "), value if not isinstance(value, list | dict) else
                                ", ".join(map(str, value))) for key, value in (entry.request or {}).items())


@admin.register(JournalLeg)
class JournalLegAdmin(LegSidesMixin, ReadOnlyAdmin):
    """Every posting line, filterable by owner, currency, instrument, kind and date."""

    list_display = ["id", "entry_link", "account", "account__kind", "account__instrument", "debit_display",
                    "credit_display", "entry__created_at"]
    list_filter = [OwnerFilter, "currency", "account__kind", "account__instrument", "entry__kind",
                   "entry__created_at"]
    search_fields = ["entry__reference", "account__customer__reference"]
    list_select_related = ["entry", "account"]
    readonly_fields = ["entry", "account", "currency", "amount"]
    show_full_result_count = False

    @admin.display(description="entry")
    def entry_link(self, leg: JournalLeg) -> str:
        return leg.entry.reference



class SyncedFilter(admin.SimpleListFilter):
    title = "synced"
    parameter_name = "synced"

    def lookups(self, request, model_admin):
        return [("no", "Not yet synced"), ("yes", "Synced")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(synced_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(synced_at__isnull=False)
        return queryset


@admin.register(SecuritiesPosting)
class SecuritiesPostingAdmin(ReadOnlyAdmin):
    """The securities sync queue: filter "Not yet synced", export the selection as CSV, book it in
    the securities account, then mark it synced. Exporting does not mark anything."""

    list_display = ["leg_id", "created_at", "reference", "customer", "instrument", "account_kind", "quantity_display",
                    "synced_at", "synced_by"]
    list_filter = [SyncedFilter, "currency", "instrument", "account_kind", "created_at"]
    search_fields = ["reference", "customer__reference", "instrument"]
    list_select_related = ["customer", "synced_by"]
    readonly_fields = ["leg", "entry", "reference", "customer", "instrument", "currency", "account_kind",
                       "quantity", "created_at", "synced_at", "synced_by"]
    actions = ["export_csv", "mark_synced"]

    @admin.display(description="quantity", ordering="quantity")
    def quantity_display(self, record: SecuritiesPosting) -> str:
        return amount_text(record.quantity, record.currency_id)
    show_full_result_count = False

    @admin.action(description="Export the selected records as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        response = HttpResponse(securities_csv(queryset.select_related("customer").order_by("leg_id")),
                                content_type="text/csv")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="securities-postings-{stamp}.csv"'
        return response

    def has_mark_securities_synced_permission(self, request) -> bool:
        return request.user.has_perm("ledger.mark_securities_synced")

    @admin.action(description="Mark the selected records as synced to the securities account",
                  permissions=["mark_securities_synced"])
    def mark_synced(self, request, queryset):
        try:
            count = securities_mark_synced(record_ids=list(queryset.values_list("leg_id", flat=True)),
                                           actor=request.user)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return None
        self.message_user(request, f"{count} record(s) marked synced.", messages.SUCCESS)
        return None
