"""Celery task of the tax records: thin, named, takes the report's id."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tax.report_build", acks_late=True)
def tax_report_build_task(report_id: int) -> dict:
    """Build one queued tax report (tax.services.tax_report_build); idempotent."""
    from tax.services import tax_report_build

    report = tax_report_build(report_id=report_id)
    return {"report": report_id, "status": report.status}
