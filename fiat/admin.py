"""Admin pages of the cash-out: bank-account review queue, quotes and sells, fiat withdrawals (with
the payment-file export), payment batches (download: the exported bytes), bank statements (lines,
the unmatched ones for review). Decisions on bank accounts and fiat withdrawals are taken on their
work orders (approvals' pages: maker ≠ checker, the flow's groups)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_tools import ActionsOnlyAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline
from core.errors import DomainError
from core.second_factor import second_factor_challenge
from customers.models import Tenant
from fiat.models import (
    BankAccount,
    BankAccountReviewItem,
    BankAccountStatusChange,
    BankStatement,
    FiatWithdrawal,
    FiatWithdrawalStatusChange,
    PaymentBatch,
    Quote,
    Sell,
    StatementLine,
)
from fiat.services.batches import bank_statement_import, payment_batch_export


class BankAccountHistory(ReadOnlyInline):
    model = BankAccountStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")


@admin.register(BankAccount)
class BankAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "holder_name", "name_match", "rail", "currency", "masked_number",
                    "bank_country", "status", "usable_from", "created_at")
    list_filter = ("status", "rail", "currency", "name_match")
    search_fields = ("customer__reference", "holder_name")
    list_select_related = ("customer__user",)
    exclude = ("iban", "account_number", "fps_id")  # the full number is on the work order's context only
    readonly_fields = ("masked_number",)
    inlines = [BankAccountHistory]


@admin.register(BankAccountReviewItem)
class BankAccountReviewAdmin(BankAccountAdmin):
    """Accounts waiting for review; the decision is taken on the ``atm.fiat.bank_account_verify`` work order."""

    list_display = ("id", "customer", "kyc_name", "holder_name", "name_match", "rail", "currency", "masked_number",
                    "work_order_link", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=BankAccount.Status.PENDING_REVIEW)

    @admin.display(description="KYC legal name")
    def kyc_name(self, obj):
        return obj.customer.legal_name

    @admin.display(description="work order")
    def work_order_link(self, obj):
        from approvals.selectors import work_order_for_subject

        wo = work_order_for_subject(obj, type="atm.fiat.bank_account_verify")
        if wo is None:
            return "-"
        return format_html('<a href="{}">WO{}</a>', reverse("admin:approvals_workorder_change", args=[wo.pk]), wo.pk)


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "sell_amount", "sell_currency", "fiat", "table_price", "price", "fiat_amount",
                    "expires_at", "used_at")
    list_filter = ("fiat", "sell_currency")
    search_fields = ("customer__reference",)


@admin.register(Sell)
class SellAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "amount", "currency", "price", "fiat_amount", "fiat", "entry_id", "created_at")
    list_filter = ("fiat", "currency")
    search_fields = ("customer__reference",)


class FiatWithdrawalHistory(ReadOnlyInline):
    model = FiatWithdrawalStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")


@admin.action(description="Export the approved orders of their currency as a pain.001 payment file",
              permissions=("export",))
def export_payment_file(modeladmin, request, queryset):
    if challenge := second_factor_challenge(request):
        return challenge
    for currency in sorted(set(queryset.filter(status="approved").values_list("currency", flat=True))):
        try:
            batch = payment_batch_export(currency=currency, actor=request.user)
            modeladmin.message_user(request, f"Payment file {batch.message_id}: {batch.count} order(s).",
                                    messages.SUCCESS)
        except DomainError as error:
            modeladmin.message_user(request, error.detail, messages.ERROR)
    return None


@admin.register(FiatWithdrawal)
class FiatWithdrawalAdmin(ActionsOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "customer", "amount", "currency", "fee", "charge_option", "status", "end_to_end_id",
                    "batch", "sent_at", "overdue_flagged_at", "return_reason", "created_at")
    list_filter = ("status", "currency", "charge_option", ("overdue_flagged_at", admin.EmptyFieldListFilter))
    search_fields = ("customer__reference", "end_to_end_id", "bank_reference")
    list_select_related = ("customer__user", "batch")
    inlines = [FiatWithdrawalHistory]
    actions = [export_payment_file]

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("fiat.export_paymentbatch")


@admin.register(PaymentBatch)
class PaymentBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("message_id", "currency", "count", "control_sum", "sha256", "created_by", "created_at",
                    "download")
    exclude = ("xml",)

    @admin.display(description="file")
    def download(self, obj):
        return format_html('<a href="{}">pain.001</a>', reverse("admin:fiat_paymentbatch_download", args=[obj.pk]))

    def get_urls(self):
        return [path("<int:pk>/download/", self.admin_site.admin_view(self.download_view),
                     name="fiat_paymentbatch_download"), *super().get_urls()]

    def download_view(self, request, pk: int):
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        batch = get_object_or_404(PaymentBatch, pk=pk)
        response = HttpResponse(bytes(batch.xml), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{batch.message_id}.xml"'
        return response


class StatementLines(ReadOnlyInline):
    model = StatementLine
    fields = ("credit", "amount", "charge", "end_to_end_id", "return_reason", "bank_reference", "info", "outcome",
              "withdrawal")


class StatementImportForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.all(), help_text="Whose client-money bank account.")
    format = forms.ChoiceField(choices=BankStatement.Format.choices)
    file = forms.FileField(help_text="The bank's camt.053 XML or CSV export, as downloaded from the bank.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise forms.ValidationError(f"A statement is at most {settings.EVIDENCE_MAX_BYTES} bytes.")
        return upload


@admin.register(BankStatement)
class BankStatementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Statements as imported; "Import a statement" matches a new one (fiat.import_bankstatement)."""

    list_display = ("statement_id", "format", "currency", "closing_balance", "ledger_balance", "reconciled",
                    "imported_by", "created_at")
    list_filter = ("reconciled", "currency")
    inlines = [StatementLines]
    change_list_template = "admin/fiat/bankstatement/change_list.html"

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("fiat.import_bankstatement")

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="fiat_bankstatement_import"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload a statement: its lines complete, return or flag the sent orders (the service)."""
        if not self.has_import_permission(request):
            return HttpResponse(status=403)
        form = StatementImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            if challenge := second_factor_challenge(request):
                return challenge
            try:
                statement = bank_statement_import(data=form.cleaned_data["file"].read(),
                                                  fmt=form.cleaned_data["format"], actor=request.user,
                                                  tenant=form.cleaned_data["tenant"])
            except DomainError as error:
                form.add_error(None, f"{error.code}: {error.detail}")
            else:
                self.message_user(request, f"Statement {statement.statement_id} imported; "
                                           f"{'reconciled' if statement.reconciled else 'NOT reconciled'} with the "
                                           "ledger's bank account.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:fiat_bankstatement_change", args=[statement.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": "Import a bank statement"}
        return TemplateResponse(request, "admin/fiat/bankstatement/import.html", context)


@admin.register(StatementLine)
class StatementLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The review list: filter outcome = unmatched."""

    list_display = ("statement", "credit", "amount", "end_to_end_id", "return_reason", "info", "outcome", "withdrawal")
    list_filter = ("outcome",)
    search_fields = ("end_to_end_id", "bank_reference")
