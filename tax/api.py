"""App API: request a tax report, read it, download its files (SPEC.md, "Tax records")."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import StrictIntegerField
from tax.models import TaxReport, TaxReportFile
from tax.selectors import tax_report_file_get, tax_report_get_for_customer
from tax.services import tax_report_request


class TaxReportInput(serializers.Serializer):
    year = StrictIntegerField(required=False, min_value=2000, max_value=2100,
                              help_text="A calendar year; or give from and to.")
    from_ = serializers.DateField(required=False, help_text="First day (inclusive), YYYY-MM-DD.")
    to = serializers.DateField(required=False, help_text="Last day (inclusive), YYYY-MM-DD.")
    fiat = serializers.ChoiceField(choices=TaxReport.Fiat.values)
    method = serializers.ChoiceField(choices=TaxReport.Method.values)
    fee_as = serializers.ChoiceField(choices=TaxReport.FeeAs.values, required=False, default=TaxReport.FeeAs.COST,
                                     help_text="Crypto fees: added to the cost basis of their move (cost, the "
                                               "default) or disposals of their own (disposal).")

    def get_fields(self):  # "from" is a keyword: declared as from_, published as from
        return {("from" if name == "from_" else name): field for name, field in super().get_fields().items()}


class TaxReportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TaxReport.Status.values)
    from_ = serializers.DateField(source="period_start")
    to = serializers.DateField(source="period_end")
    fiat = serializers.CharField()
    method = serializers.CharField()
    fee_as = serializers.CharField()
    error = serializers.CharField(help_text="Why it failed; empty otherwise.")
    summary = serializers.DictField(help_text="Per currency: acquisitions, disposals, transfers, flagged_disposals, "
                                              "proceeds, cost_basis, gain (decimal strings); once ready.")
    files = serializers.SerializerMethodField(help_text="Download links by kind (lots.csv, gains.csv, koinly.csv, "
                                                        "statement.pdf), once ready; empty before.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_fields(self):
        return {("from" if name == "from_" else name): field for name, field in super().get_fields().items()}

    def get_files(self, report) -> dict[str, str]:
        if report.status != TaxReport.Status.READY:
            return {}
        request = self.context.get("request")
        links = {}
        for row in sorted(report.files.all(), key=lambda f: f.kind):
            url = reverse("tax-report-file", args=[report.pk, row.kind])
            links[row.kind] = request.build_absolute_uri(url) if request else url
        return links


class TaxReportCreate(APIView):
    @extend_schema(operation_id="tax_reports_create", request=TaxReportInput,
                   description="Queues a report of the customer's cost basis and realised gains (status `queued`, "
                               "then `running`, then `ready` or `failed`); poll the detail for the links.",
                   responses={201: TaxReportOutput, **error_responses("validation_error", *AUTH_ERRORS)})
    def post(self, request):
        data = TaxReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        report = tax_report_request(customer=request.customer, actor=request.user, fiat=values["fiat"],
                                    method=values["method"], fee_as=values["fee_as"], year=values.get("year"),
                                    start=values.get("from"), end=values.get("to"))
        return Response(TaxReportOutput(report, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TaxReportDetail(APIView):
    @extend_schema(operation_id="tax_reports_retrieve",
                   responses={200: TaxReportOutput, **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, report_id: int):
        report = tax_report_get_for_customer(customer=request.customer, report_id=report_id)
        return Response(TaxReportOutput(report, context={"request": request}).data)


class TaxReportFileDownload(APIView):
    @extend_schema(operation_id="tax_reports_file", description="One file of a ready report (CSV or PDF).",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="A CSV file."),
                              (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY,
                                                                        description="The statement."),
                              **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, report_id: int, kind: str):
        report = tax_report_get_for_customer(customer=request.customer, report_id=report_id)
        row = tax_report_file_get(report=report, kind=kind)
        return file_response(row)


def file_response(row: TaxReportFile) -> HttpResponse:
    response = HttpResponse(bytes(row.content), content_type=row.content_type)
    response["Content-Disposition"] = f'attachment; filename="tax-report-{row.report_id}-{row.kind}"'
    response["X-Content-SHA256"] = row.sha256
    response["Cache-Control"] = "private, no-store"
    return response



