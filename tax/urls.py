from django.urls import path

from tax import api

urlpatterns = [
    path("tax-reports/", api.TaxReportCreate.as_view(), name="tax-reports"),
    path("tax-reports/<int:report_id>/", api.TaxReportDetail.as_view(), name="tax-report-detail"),
    path("tax-reports/<int:report_id>/files/<str:kind>", api.TaxReportFileDownload.as_view(), name="tax-report-file"),
]
