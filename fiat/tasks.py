"""Celery tasks of the cash-out (thin: they call services)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="fiat.flag_overdue_payments", acks_late=True)
def flag_overdue_payments() -> int:
    """Flag fiat withdrawals sent more than FIAT_SENT_OVERDUE_BUSINESS_DAYS business days ago and not
    yet matched on a statement (the admin filters on the flag). Idempotent: a flagged order stays."""
    from fiat.services.withdrawals import fiat_withdrawals_flag_overdue

    return fiat_withdrawals_flag_overdue()
