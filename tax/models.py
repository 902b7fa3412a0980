"""Tax report jobs and the files they produce (docs/TAX.md).

A ``TaxReport`` is one customer's request for a period, a fiat currency, a cost-basis method and
a fee treatment. It moves ``queued → running → ready | failed`` only through ``tax.services``
(``core.transitions``); its files (``TaxReportFile``) are written once, when it becomes ready.
The tax records read the ledger and write nothing to it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import FSMField, FSMModelMixin, transition

from core.history import StatusChange
from core.transitions import Audited


class TaxReport(Audited, FSMModelMixin, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Method(models.TextChoices):
        FIFO = "fifo", "FIFO (first in, first out)"
        HIFO = "hifo", "HIFO (highest cost first)"
        AVERAGE = "average", "Average cost"

    class FeeAs(models.TextChoices):
        COST = "cost", "Fees add to the cost basis of their move"
        DISPOSAL = "disposal", "Fees are disposals of their own"

    class Fiat(models.TextChoices):
        USD = "USD", "USD"
        HKD = "HKD", "HKD"

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="tax_reports")
    period_start = models.DateField(help_text="First day of the period (inclusive, in TIME_ZONE).")
    period_end = models.DateField(help_text="Last day of the period (inclusive).")
    fiat = models.CharField(max_length=3, choices=Fiat.choices)
    method = models.CharField(max_length=8, choices=Method.choices)
    fee_as = models.CharField(max_length=8, choices=FeeAs.choices, default=FeeAs.COST,
                              help_text="How crypto fees are treated (docs/TAX.md).")
    status = FSMField(default=Status.QUEUED, choices=Status.choices, protected=True, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     help_text="The customer's user (API) or the staff member (admin).")
    error = models.TextField(blank=True, help_text="Why the job failed.")
    summary = models.JSONField(default=dict, blank=True, help_text="Totals per currency (strings), once ready.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "created_at"])]
        constraints = [models.CheckConstraint(condition=Q(period_end__gte=F("period_start")),
                                              name="tax_report_period_ordered")]
        permissions = [("generate_taxreport", "Can generate a tax report for any customer")]

    def __str__(self) -> str:
        return f"TR{self.pk} {self.customer_id} {self.period_start}…{self.period_end} {self.method} {self.fiat}"

    def transition_audit_row(self, *, from_state, to_state, actor, reason, transition):
        return TaxReportStatusChange(report=self, from_status=from_state, to_status=to_state, actor=actor,
                                     reason=reason)

    @transition(field=status, source=Status.QUEUED, target=Status.RUNNING)
    def start(self):
        pass

    @transition(field=status, source=Status.RUNNING, target=Status.READY)
    def finish(self):
        pass

    @transition(field=status, source=[Status.QUEUED, Status.RUNNING], target=Status.FAILED)
    def fail(self):
        pass


class TaxReportStatusChange(StatusChange):
    report = models.ForeignKey(TaxReport, on_delete=models.PROTECT, related_name="history")


class TaxReportFile(models.Model):
    """One produced file, kept in the database (small, written once, served to its owner only)."""

    class Kind(models.TextChoices):
        LOTS_CSV = "lots.csv", "Lots (CSV)"
        GAINS_CSV = "gains.csv", "Realised gains (CSV)"
        KOINLY_CSV = "koinly.csv", "Koinly universal (CSV)"
        STATEMENT_PDF = "statement.pdf", "Statement (PDF)"

    CONTENT_TYPES = {Kind.LOTS_CSV: "text/csv", Kind.GAINS_CSV: "text/csv", Kind.KOINLY_CSV: "text/csv",
                     Kind.STATEMENT_PDF: "application/pdf"}

    report = models.ForeignKey(TaxReport, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    content = models.BinaryField(editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    size = models.PositiveIntegerField(editable=False)

    class Meta:
        ordering = ["report_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["report", "kind"], name="tax_report_file_unique")]

    def __str__(self) -> str:
        return f"TR{self.report_id} {self.kind}"

    @property
    def content_type(self) -> str:
        return self.CONTENT_TYPES[self.kind]
