"""Writes to customers: App tokens and the payout freeze."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from customers.models import Customer

logger = logging.getLogger(__name__)


def customer_token_issue(*, user) -> Token:
    """A fresh App token for ``user``: any earlier one is deleted (its clock starts now)."""
    with transaction.atomic():
        # Two logins at once must not both create (one token per user): the user row serializes them.
        type(user).objects.select_for_update().filter(pk=user.pk).first()
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def customer_token_revoke(*, token: Token) -> None:
    """Log out: the token is deleted and never authenticates again."""
    Token.objects.filter(pk=token.pk).delete()


def customer_freeze_payouts(*, customer: Customer | int, reason: str, hours: float | None = None) -> datetime:
    """Pause the customer's withdrawals for ``hours`` (``PAYOUT_FREEZE_HOURS``) from now.

    A freeze already running longer is kept (never shortened); the reason is the latest event's.
    Call it inside the transaction of the change that causes it: it stands or falls with it.
    Returns the end of the freeze.
    """
    length = settings.PAYOUT_FREEZE if hours is None else timedelta(hours=hours)
    customer_id = customer if isinstance(customer, int) else customer.pk
    with transaction.atomic():
        row = Customer.objects.select_for_update().get(pk=customer_id)
        until = timezone.now() + length
        if row.payouts_frozen_until is not None and row.payouts_frozen_until > until:
            until = row.payouts_frozen_until
        row.payouts_frozen_until = until
        row.payouts_frozen_reason = reason[:200]
        row.save(update_fields=["payouts_frozen_until", "payouts_frozen_reason"])
    if isinstance(customer, Customer):
        customer.payouts_frozen_until = row.payouts_frozen_until
        customer.payouts_frozen_reason = row.payouts_frozen_reason
    logger.info("customer %s: payouts frozen until %s (%s)", customer_id, until.isoformat(), reason)
    return until
