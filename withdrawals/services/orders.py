"""Withdrawal orders: the request and every move of SPEC.md's state table.

Each move is one service with the house recipe: one transaction, the order row locked, the
move checked against the FSM declared on the model, an audit row (who, from, to, why), the
ledger posting of the move, and any task started on commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django_fsm import can_proceed

from chains.models import Coin
from core.amounts import parse_amount
from core.errors import DomainError
from core.idempotency import idempotency_key_checked
from core.times import iso_utc
from core.transitions import transition_apply
from customers.models import Customer
from events.services import event_record
from ledger.services import ledger_fee_release, ledger_hold, ledger_release
from withdrawals.models import IdempotencyRecord, WithdrawalOrder, WithdrawalStatusChange
from withdrawals.selectors.addresses import address_get_usable
from withdrawals.services.moves import withdrawal_held_split, withdrawal_locked
from withdrawals.services.otp import WrongOtp, totp_failure_record, totp_verify

WORK_ORDER_TYPE = "atm.va.coin_withdraw_apply"
# 1 to 100 printable ASCII characters, no blank at either end (the schema says the same).
Status = WithdrawalOrder.Status


def _release_everything(order: WithdrawalOrder, *, why: str) -> None:
    """Give the customer back the hold, and the main account back any reserved fee."""
    ledger_release(customer=order.customer, currency=order.coin.currency.code, split=withdrawal_held_split(order),
                   reference=f"withdrawal:{order.pk}:release")
    if order.fee_reserved:
        ledger_fee_release(tenant=order.customer.tenant, currency=order.coin.fee_currency.code,
                           amount=order.fee_reserved, reference=f"withdrawal:{order.pk}:fee-release:{why}")
        order.fee_reserved = Decimal("0")


def _start_sending(order_id: int) -> None:
    from withdrawals.tasks import withdrawal_send

    transaction.on_commit(lambda: withdrawal_send.delay(order_id))


# --- the request -------------------------------------------------------------------------------

def request_fingerprint(body: dict) -> str:
    """What makes two requests "the same" for Idempotency-Key: the body without the OTP
    (a retry may carry a fresh code)."""
    material = {k: body.get(k) for k in sorted(body) if k != "otp"}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def withdrawal_request(*, customer: Customer, idempotency_key: str, currency: str, network: str,
                       address_id: int, amount: str, otp: str, travel_rule: dict | None = None
                       ) -> tuple[WithdrawalOrder, bool]:
    """Accept an App withdrawal: hold amount + fee, open the work order, enter pending_approval.

    Returns (order, created). The same key with the same body returns the first order
    (created=False); with another body it is ``idempotency_conflict``. Any refusal changes
    nothing: no order, no hold, no work order, the OTP code not consumed.
    """
    idempotency_key_checked(idempotency_key)
    fingerprint = request_fingerprint({"currency": currency, "network": network, "address_id": address_id,
                                       "amount": amount, "travel_rule": travel_rule})
    try:
        with transaction.atomic():
            # One request per customer at a time: serializes the daily limit and the key check.
            locked = Customer.objects.select_for_update().filter(pk=customer.pk).first()
            previous = _idempotent_replay(customer, idempotency_key, fingerprint)
            if previous is not None:
                return previous, False
            order = _create_order(customer, currency=currency, network=network, address_id=address_id,
                                  amount=amount, otp=otp, travel_rule=travel_rule,
                                  frozen_until=locked.payouts_frozen_until if locked else None)
            IdempotencyRecord.objects.create(customer=customer, key=idempotency_key, request_hash=fingerprint,
                                             order=order)
    except WrongOtp:
        # The request changed nothing (rolled back); the wrong code is counted in its own
        # transaction, so the count survives the refusal (docs/DECISIONS.md).
        raise totp_failure_record(customer=customer) from None
    except IntegrityError:
        # Another connection stored the same key first (the lock makes this rare): answer as it did.
        previous = _idempotent_replay(customer, idempotency_key, fingerprint)
        if previous is None:
            raise
        return previous, False
    return order, True


def _idempotent_replay(customer, key: str, fingerprint: str) -> WithdrawalOrder | None:
    record = IdempotencyRecord.objects.filter(customer=customer, key=key).select_related("order").first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise DomainError("idempotency_conflict", "This Idempotency-Key was used with another request.")
    return record.order


def _create_order(customer: Customer, *, currency: str, network: str, address_id: int, amount: str, otp: str,
                  travel_rule: dict | None, frozen_until=None) -> WithdrawalOrder:
    coin = _open_coin(currency, network)
    value = parse_amount(amount, max_decimals=coin.decimals)
    if value < coin.min_amount:
        raise DomainError("amount_below_minimum", f"The minimum is {coin.min_amount.normalize():f}.", field="amount")
    if value > coin.max_amount:
        raise DomainError("amount_above_maximum", f"The maximum is {coin.max_amount.normalize():f}.", field="amount")
    # Locked: the address cannot be revoked while the order that uses it is being created.
    address = address_get_usable(customer=customer, address_id=address_id, network=coin.network, lock=True)
    if not customer.may_withdraw:
        raise DomainError("kyc_required", "KYC must be approved before withdrawing.")
    if frozen_until is not None and frozen_until > timezone.now():
        raise DomainError("payout_frozen", f"Withdrawals are paused until {iso_utc(frozen_until)} after a "
                                           "password change, a new OTP device or a new address.")
    totp_verify(customer=customer, code=otp)
    _check_daily_limit(customer, coin, value)

    order = WithdrawalOrder.objects.create(
        customer=customer, coin=coin, address=address, destination=address.address, amount=value,
        customer_fee=coin.customer_fee, network_fee_estimate=coin.network_fee_estimate or Decimal("0"),
        travel_rule=travel_rule or None,
    )
    split = ledger_hold(customer=customer, currency=coin.currency.code, amount=value + coin.customer_fee,
                        reference=f"withdrawal:{order.pk}:hold")
    order.split = [line.as_dict() for line in split]
    order.save(update_fields=["split"])
    WithdrawalStatusChange.objects.create(order=order, from_status="", to_status=order.status,
                                          actor=customer.user, reason="Requested in the App")
    # A request is a state too: its outbox row, in this transaction (docs/WEBHOOKS.md).
    event_record(kind="withdrawal.pending_approval", subject=order, actor=customer.user, payload={
        "from": "", "to": order.status, "transition": "request", "reason": "Requested in the App",
        **order.event_data()})
    from approvals.services.work_orders import work_order_open

    work_order = work_order_open(type=WORK_ORDER_TYPE, subject=order, maker=customer.user, context=None)
    if work_order.status != work_order.Status.OPEN:
        order.refresh_from_db()  # screening rejected it (withdrawal_reject moved and released it)
    return order


def _open_coin(currency: str, network: str) -> Coin:
    coin = (Coin.objects.select_related("currency", "network", "fee_currency")
            .filter(currency__code=currency, network__code=network).first())
    if coin is None:
        raise DomainError("unknown_coin", f"No coin {currency} on {network}.", field="currency")
    if not coin.enabled:
        raise DomainError("coin_disabled", f"Withdrawals of {coin} are switched off.", field="currency")
    return coin


def daily_limit_for(customer: Customer, coin: Coin) -> Decimal:
    multiplier = settings.KYC_DAILY_LIMIT_MULTIPLIER.get(customer.kyc_level, 0)
    return coin.daily_limit * multiplier


def withdrawn_today(customer: Customer, coin: Coin, *, now: datetime | None = None) -> Decimal:
    """Sum of today's (UTC) orders that still count: not rejected, cancelled or failed."""
    now = now or timezone.now()
    start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    total = (WithdrawalOrder.objects.filter(WithdrawalOrder.COUNTS_TOWARDS_LIMIT, customer=customer, coin=coin,
                                            created_at__gte=start, created_at__lt=start + timedelta(days=1))
             .aggregate(total=Sum("amount"))["total"])
    return total or Decimal("0")


def _check_daily_limit(customer: Customer, coin: Coin, amount: Decimal) -> None:
    limit = daily_limit_for(customer, coin)
    used = withdrawn_today(customer, coin)
    if used + amount > limit:
        left = max(limit - used, Decimal("0"))
        raise DomainError("daily_limit_exceeded", f"Today's limit leaves {left.normalize():f} {coin.currency.code}.",
                          field="amount")


# --- moves by the customer, the approvals engine and staff ---------------------------------------

def withdrawal_cancel(*, order: WithdrawalOrder | int, actor, reason: str = "Cancelled by the customer"
                      ) -> WithdrawalOrder:
    """The customer cancels while the order is pending approval: hold released, work order closed."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status == Status.CANCELLED:
            return order
        if order.status != Status.PENDING_APPROVAL:
            raise DomainError("not_cancellable", f"A {order.get_status_display().lower()} withdrawal "
                                                 "cannot be cancelled.")
        _release_everything(order, why="cancel")
        transition_apply(order, "cancel", actor=actor, reason=reason, fields=("fee_reserved",))
        from approvals.services.work_orders import work_order_cancel

        work_order_cancel(subject=order, actor=actor, reason=reason)
    return order


def withdrawal_approve(*, order: WithdrawalOrder | int, actor, reason: str = "") -> WithdrawalOrder:
    """The last approval step approved: the order goes to the send pipeline on commit."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status == Status.APPROVED:
            return order
        transition_apply(order, "approve", actor=actor, reason=reason or "Approved")
        _start_sending(order.pk)
    return order


def withdrawal_reject(*, order: WithdrawalOrder | int, actor, reason: str) -> WithdrawalOrder:
    """Rejected by an approver, by screening, or by staff before sending: everything released."""
    if not reason.strip():
        raise DomainError("validation_error", "A rejection needs a reason.", field="reason")
    with transaction.atomic():
        order = withdrawal_locked(order)
        if order.status == Status.REJECTED:
            return order
        if not can_proceed(order.reject):
            raise DomainError("invalid_transition", f"A {order.get_status_display().lower()} withdrawal "
                                                    "cannot be rejected.")
        if order.status == Status.PENDING_APPROVAL:
            _refuse_while_work_order_open(order)
        _release_everything(order, why="reject")
        transition_apply(order, "reject", actor=actor, reason=reason, fields=("fee_reserved",))
    return order


def _refuse_while_work_order_open(order: WithdrawalOrder) -> None:
    """A pending withdrawal is rejected only as a decision on its work order (group, maker ≠
    checker): the engine closes the work order first, then calls ``withdrawal_reject``."""
    from approvals.models import WorkOrder

    open_one = WorkOrder.objects.filter(type=WORK_ORDER_TYPE, object_id=order.pk, status=WorkOrder.Status.OPEN,
                                        content_type__app_label="withdrawals",
                                        content_type__model="withdrawalorder").first()
    if open_one is not None:
        raise DomainError("invalid_transition", f"W{order.pk} is pending approval: reject it on its work order "
                                                f"WO{open_one.pk} (Approvals → My queue).")


def withdrawal_staff_reject(*, order: WithdrawalOrder | int, actor, reason: str) -> WithdrawalOrder:
    """Staff reject from the withdrawal list. Pending approval: the rejection is the actor's
    decision on the order's work order (``work_order_decide``: only the current step's group,
    never the maker), which closes it and releases the hold. Approved or awaiting fee (work order
    already approved), before sending: ``withdrawal_reject``, recorded in the order's history."""
    from approvals.selectors import work_order_for_subject
    from approvals.services.work_orders import work_order_decide

    if not (reason or "").strip():
        raise DomainError("validation_error", "A rejection needs a reason.", field="reason")
    order = WithdrawalOrder.objects.get(pk=order.pk if isinstance(order, WithdrawalOrder) else order)
    if order.status == Status.PENDING_APPROVAL:
        work_order = work_order_for_subject(order, type=WORK_ORDER_TYPE)
        if work_order is not None and work_order.status == "open":
            work_order_decide(work_order=work_order, actor=actor, decision="reject", comment=reason)
            order.refresh_from_db()
            return order
    return withdrawal_reject(order=order, actor=actor, reason=reason)


def withdrawal_resubmit(*, order: WithdrawalOrder | int, actor, reason: str = "Main account topped up"
                        ) -> WithdrawalOrder:
    """Staff send an order that waited for fees back to the pipeline."""
    with transaction.atomic():
        order = withdrawal_locked(order)
        transition_apply(order, "resubmit", actor=actor, reason=reason)
        _start_sending(order.pk)
    return order
