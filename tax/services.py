"""Tax report jobs: request (API or admin), build (the Celery task), each move through
``core.transitions``. The build reads the ledger and writes only the report and its files."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from core.transitions import locked, transition_apply
from tax import exports
from tax.cost_basis import compute
from tax.extraction import events_from_postings
from tax.models import TaxReport, TaxReportFile
from tax.prices import price_history
from tax.selectors import customer_postings, own_withdrawal_refs

logger = logging.getLogger("tax")

MAX_PERIOD_DAYS = 366 * 5


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def report_period(*, start: date, end: date) -> exports.Period:
    return exports.Period(start=_day_start(start), end=_day_start(end + timedelta(days=1)),
                          label=f"{start.isoformat()} – {end.isoformat()}")


def _period(*, year: int | None, start: date | None, end: date | None) -> tuple[date, date]:
    if year is not None:
        if start is not None or end is not None:
            raise DomainError("validation_error", "Give a year, or from and to, not both.", field="year")
        if not 2000 <= year <= 2100:
            raise DomainError("validation_error", "The year is out of range.", field="year")
        return date(year, 1, 1), date(year, 12, 31)
    if start is None or end is None:
        raise DomainError("validation_error", "Give a year, or both from and to.", field="from" if start is None
                          else "to")
    if end < start:
        raise DomainError("validation_error", "The period ends before it starts.", field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise DomainError("validation_error", "The period is longer than five years.", field="to")
    return start, end


def tax_report_request(*, customer, actor, fiat: str, method: str, fee_as: str = TaxReport.FeeAs.COST,
                       year: int | None = None, start: date | None = None, end: date | None = None) -> TaxReport:
    """Queue a report for ``customer`` (by the customer's user, or a staff member with
    ``tax.generate_taxreport``); the build starts on commit."""
    if fiat not in TaxReport.Fiat.values:
        raise DomainError("validation_error", "The fiat is USD or HKD.", field="fiat")
    if method not in TaxReport.Method.values:
        raise DomainError("validation_error", "The method is fifo, hifo or average.", field="method")
    if fee_as not in TaxReport.FeeAs.values:
        raise DomainError("validation_error", "Fees are treated as cost or disposal.", field="fee_as")
    own = getattr(customer, "user_id", None) == getattr(actor, "pk", object())
    if not own and not (actor and actor.is_active and actor.is_staff and actor.has_perm("tax.generate_taxreport")):
        raise DomainError("permission_denied", "Only the customer or staff allowed to may request this report.")
    period_start, period_end = _period(year=year, start=start, end=end)
    from tax.tasks import tax_report_build_task

    with transaction.atomic():
        report = TaxReport.objects.create(customer=customer, period_start=period_start, period_end=period_end,
                                          fiat=fiat, method=method, fee_as=fee_as, requested_by=actor)
        report.history.create(from_status="", to_status=report.status, actor=actor, reason="Requested")
        transaction.on_commit(lambda: tax_report_build_task.delay(report.pk))
    return report


@dataclass(frozen=True)
class Built:
    files: dict[str, bytes]
    summary: dict


def tax_report_compute(*, customer, start: date, end: date, fiat: str, method: str, fee_as: str) -> Built:
    """The files of a report (no writes): what the build stores, and what the tests and the
    benchmark call directly."""
    period = report_period(start=start, end=end)
    postings = customer_postings(customer_id=customer.pk, before=period.end)
    prices = price_history(currencies=sorted({p.currency for p in postings}), quote=fiat)
    events = events_from_postings(postings, customer_id=customer.pk, fiat_code=fiat, price_at=prices.price_at,
                                  own_withdrawal_refs=own_withdrawal_refs(customer=customer, postings=postings),
                                  fee_as=fee_as)
    result = compute(events, method=method)
    totals = exports.summary(result, period)
    files = {TaxReportFile.Kind.LOTS_CSV: exports.lots_csv(result),
             TaxReportFile.Kind.GAINS_CSV: exports.gains_csv(result, period),
             TaxReportFile.Kind.KOINLY_CSV: exports.koinly_csv(result, fiat)}
    files[TaxReportFile.Kind.STATEMENT_PDF] = exports.statement_pdf(
        result=result, period=period, totals=totals, customer_reference=customer.reference, fiat=fiat,
        method_label=TaxReport.Method(method).label, fee_label=TaxReport.FeeAs(fee_as).label,
        fingerprints={kind: exports.sha256(content) for kind, content in files.items()})
    return Built(files={str(k): v for k, v in files.items()}, summary=totals)


def tax_report_build(*, report_id: int) -> TaxReport:
    """queued → running, compute, running → ready with the files (or → failed with the error).
    Idempotent: a report already ready or failed is left as it is; a redelivered task finds it
    running and builds it again (the files are written under the row lock, once)."""
    with transaction.atomic():
        report = locked(TaxReport, report_id, select_related=("customer",))
        if report.status in (TaxReport.Status.READY, TaxReport.Status.FAILED):
            return report
        report.started_at = timezone.now()
        transition_apply(report, "start", actor=None, reason="Build started", fields=("started_at",))
    try:
        built = tax_report_compute(customer=report.customer, start=report.period_start, end=report.period_end,
                                   fiat=report.fiat, method=report.method, fee_as=report.fee_as)
    except Exception as error:  # recorded on the report; the customer sees "failed" and asks again
        logger.exception("tax report %s failed", report_id)
        with transaction.atomic():
            report = locked(TaxReport, report_id)
            report.error, report.finished_at = f"{type(error).__name__}: {error}"[:2000], timezone.now()
            transition_apply(report, "fail", actor=None, reason="Build failed", fields=("error", "finished_at"))
        return report
    with transaction.atomic():
        report = locked(TaxReport, report_id)
        if report.status != TaxReport.Status.RUNNING:
            return report
        TaxReportFile.objects.bulk_create([
            TaxReportFile(report=report, kind=kind, content=content, sha256=exports.sha256(content), size=len(content))
            for kind, content in sorted(built.files.items())])
        report.summary, report.finished_at = built.summary, timezone.now()
        transition_apply(report, "finish", actor=None, reason="Build finished", fields=("summary", "finished_at"))
    return report
