"""Tax reports in the admin: staff with ``tax.generate_taxreport`` generate one for any
customer (the same service as the API); everyone who may view reports downloads the files."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin_tools import ReadOnlyAdminMixin
from core.errors import DomainError
from core.second_factor import second_factor_challenge
from customers.models import Customer
from tax.api import file_response
from tax.models import TaxReport, TaxReportFile
from tax.services import tax_report_request


class GenerateForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.order_by("reference"),
                                      help_text="The customer whose ledger postings are read.")
    year = forms.IntegerField(required=False, min_value=2000, max_value=2100)
    start = forms.DateField(required=False, label="From", help_text="First day (inclusive), instead of a year.")
    end = forms.DateField(required=False, label="To", help_text="Last day (inclusive).")
    fiat = forms.ChoiceField(choices=TaxReport.Fiat.choices)
    method = forms.ChoiceField(choices=TaxReport.Method.choices)
    fee_as = forms.ChoiceField(choices=TaxReport.FeeAs.choices, label="Fees")


@admin.register(TaxReport)
class TaxReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "customer", "period_start", "period_end", "fiat", "method", "status", "created_at")
    list_filter = ("status", "method", "fiat")
    list_select_related = ("customer",)
    search_fields = ("customer__reference",)
    fields = ("customer", "period_start", "period_end", "fiat", "method", "fee_as", "status", "requested_by",
              "created_at", "started_at", "finished_at", "error", "summary", "downloads")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("tax.generate_taxreport")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Files")
    def downloads(self, obj):
        rows = [(reverse("admin:tax_taxreport_file", args=[obj.pk, f.kind]), f.kind, f.sha256[:16])
                for f in obj.files.order_by("kind")]
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a> <code>{}…</code></li>', rows))

    def get_urls(self):
        return [path("<int:report_id>/file/<str:kind>", self.admin_site.admin_view(self.file_view),
                     name="tax_taxreport_file"), *super().get_urls()]

    def file_view(self, request, report_id: int, kind: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(TaxReportFile, report_id=report_id, kind=kind)
        return file_response(row)

    def add_view(self, request, form_url="", extra_context=None):
        """Generating goes through the service (never a bare save)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GenerateForm(request.POST or None)
        if request.method == "POST" and (challenge := second_factor_challenge(request)):
            return challenge
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = tax_report_request(customer=data["customer"], actor=request.user, fiat=data["fiat"],
                                            method=data["method"], fee_as=data["fee_as"], year=data["year"],
                                            start=data["start"], end=data["end"])
            except DomainError as error:
                form.add_error({"from": "start", "to": "end"}.get(error.field, error.field)
                               if error.field in ("year", "from", "to", "fiat", "method", "fee_as") else None,
                               error.detail)
            else:
                self.message_user(request, f"{report} queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:tax_taxreport_change", args=[report.pk]))
        return TemplateResponse(request, "admin/tax/taxreport/add_form.html", {
            **self.admin_site.each_context(request), "title": "Generate a tax report", "form": form,
            "opts": self.model._meta,
        })
