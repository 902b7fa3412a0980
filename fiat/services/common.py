"""What the fiat services share: idempotent App requests, OTP, settings with their defaults."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from core.customer_otp import WrongOtp, customer_otp_failure
from core.errors import DomainError
from core.idempotency import idempotency_key_checked
from customers.models import Customer
from fiat.models import FiatIdempotencyRecord


def setting(name: str, default):
    return getattr(settings, name, default)


def fingerprint(body: dict) -> str:
    material = {k: body.get(k) for k in sorted(body) if k != "otp"}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(*, customer, scope: str, key: str, body: dict, create, load):
    """Run ``create()`` once per (customer, scope, key): the same body again answers ``load(id)`` of
    the first result (created=False), another body ``idempotency_conflict``. The customer row is
    locked for the request (limits are counted under it). A wrong OTP is counted after the
    rollback. Returns (object, created)."""
    key = idempotency_key_checked(key)
    digest = fingerprint(body)

    def replay():
        record = FiatIdempotencyRecord.objects.filter(customer=customer, scope=scope, key=key).first()
        if record is None:
            return None
        if record.request_hash != digest:
            raise DomainError("idempotency_conflict", "This Idempotency-Key was used with another request.")
        return load(record.object_id)

    try:
        with transaction.atomic():
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            previous = replay()
            if previous is not None:
                return previous, False
            obj = create()
            FiatIdempotencyRecord.objects.create(customer=customer, scope=scope, key=key, request_hash=digest,
                                                 object_id=obj.pk)
    except WrongOtp:
        raise customer_otp_failure(customer=customer) from None
    except IntegrityError:
        previous = replay()
        if previous is None:
            raise
        return previous, False
    return obj, True


def kyc_limit(name: str, customer, currency: str) -> Decimal:
    """A per-KYC-level limit in ``currency`` from settings ``name`` = {level: {currency: amount}}."""
    table = setting(name, {})
    return Decimal(str(table.get(customer.kyc_level, table.get(str(customer.kyc_level), {})).get(currency, "0")))
