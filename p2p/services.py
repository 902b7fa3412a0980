"""P2P offers and trades: every move of docs/P2P.md, one service each.

The house recipe (core.transitions): one transaction, the row locked (``locked``), the version the
client saw compared (``trade_state_changed``), the move checked against the FSM declared on the
model, the ledger posting of the move in the same transaction, the timeline row (actor, reason,
version). Refusals are ``DomainError``s and change nothing.

Lock order, the same on every path: offer → customers (take) | trade → offer (refunds) | trade →
work order (release during appeal; the approvals engine locks the trade before its work order).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django_fsm import can_proceed

from approvals.models import WorkOrder, WorkOrderType
from approvals.services.work_orders import work_order_cancel, work_order_open
from chains.models import Currency
from core.amounts import parse_amount
from core.customer_otp import WrongOtp, customer_otp_failure, customer_otp_verify
from core.errors import DomainError
from core.evidence import evidence_check
from core.transitions import locked, transition_apply
from customers.models import Customer
from ledger.services import ledger_p2p_escrow, ledger_p2p_refund, ledger_p2p_release
from ledger.types import HoldLine
from p2p.models import FeePayer, P2PEvidence, P2POffer, P2POfferStatusChange, P2PTrade, P2PTradeStatusChange, Side
from p2p.payment_methods import (
    payer_name_check,
    payment_method_for_trade,
    payment_method_label,
    seller_payment_methods,
)

logger = logging.getLogger("p2p")

APPEAL_WORK_ORDER = WorkOrderType.P2P_APPEAL
Status = P2PTrade.Status
OfferStatus = P2POffer.Status
FIAT_CENT = Decimal("0.01")
PRICE_DECIMALS = 6
RESOLUTIONS = ("release", "refund")


# --- shared checks ------------------------------------------------------------------------------

def _kyc_check(customer: Customer, *, role: str) -> None:
    if customer.kyc_status != Customer.KycStatus.APPROVED or customer.kyc_level < 1:
        raise DomainError("kyc_required", f"The {role}'s KYC must be approved to trade P2P.")


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    return start, start + timedelta(days=1)


# Trades whose volume counts against the day: everything but what gave the coins back.
COUNTS_TOWARDS_LIMIT = ~Q(status__in=[Status.CANCELLED, Status.EXPIRED, Status.RESOLVED_REFUND])


def daily_fiat_limit(customer: Customer, fiat: str) -> Decimal:
    return settings.P2P_DAILY_FIAT_LIMITS.get(fiat, {}).get(customer.kyc_level, Decimal(0))


def traded_today(customer: Customer, fiat: str, *, now: datetime) -> Decimal:
    start, end = _day_bounds(now)
    total = (P2PTrade.objects.filter(COUNTS_TOWARDS_LIMIT, Q(buyer=customer) | Q(seller=customer), fiat=fiat,
                                     created_at__gte=start, created_at__lt=end)
             .aggregate(total=Sum("fiat_amount"))["total"])
    return total or Decimal(0)


def _daily_limit_check(customer: Customer, fiat: str, fiat_amount: Decimal, *, role: str, now: datetime) -> None:
    limit = daily_fiat_limit(customer, fiat)
    used = traded_today(customer, fiat, now=now)
    if used + fiat_amount > limit:
        left = max(limit - used, Decimal(0))
        raise DomainError("daily_limit_exceeded", f"The {role}'s KYC level leaves {left.normalize():f} {fiat} of P2P "
                                                  "trading today.", field="amount")


def buyer_cancels_today(buyer: Customer, *, now: datetime) -> int:
    start, end = _day_bounds(now)
    return P2PTrade.objects.filter(buyer=buyer, status=Status.CANCELLED, cancelled_by=Side.BUYER,
                                   closed_at__gte=start, closed_at__lt=end).count()


def _trade_terms(offer: P2POffer, amount: Decimal) -> dict:
    """Fee, escrow and what the buyer receives for ``amount`` of the offer."""
    decimals = offer.currency.decimals
    fee = (amount * settings.P2P_FEE_RATE).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if offer.fee_payer == FeePayer.SELLER:
        escrow, receives = amount + fee, amount
    else:
        escrow, receives = amount, amount - fee
    if receives <= 0:
        raise DomainError("amount_below_minimum", "The amount does not cover the trade fee.", field="amount")
    fiat_amount = (amount * offer.price).quantize(FIAT_CENT, rounding=ROUND_HALF_UP)
    if fiat_amount <= 0:
        raise DomainError("amount_below_minimum", "The amount is worth less than one cent.", field="amount")
    return {"fee": fee, "escrow_amount": escrow, "buyer_receives": receives, "fiat_amount": fiat_amount}


def _split(trade: P2PTrade) -> list[HoldLine]:
    return [HoldLine.from_dict(line) for line in trade.escrow_split]


def _note(trade: P2PTrade, *, actor, reason: str) -> None:
    """A timeline row that is not a status move (the seller asked to cancel, evidence added)."""
    P2PTradeStatusChange.objects.create(trade=trade, from_status=trade.status, to_status=trade.status, actor=actor,
                                        reason=reason, version=trade.version)


# --- offers -------------------------------------------------------------------------------------

def offer_create(*, seller: Customer, currency: str, fiat: str, price: str, total_amount: str, min_trade: str,
                 max_trade: str, payment_method_ids: list[int], payment_window_minutes: int | None = None,
                 fee_payer: str | None = None, terms: str = "") -> P2POffer:
    """A KYC'd seller offers ``total_amount`` of ``currency`` for ``fiat`` at ``price`` per unit.
    Nothing is held yet: the coins move to escrow when a buyer takes part of the offer."""
    _kyc_check(seller, role="seller")
    coin_currency = Currency.objects.filter(code=currency).first()
    if coin_currency is None:
        raise DomainError("unknown_currency", f"No currency {currency}.", field="currency")
    if fiat not in (seller.tenant.quote_currencies or []):
        raise DomainError("validation_error", f"{fiat} is not a fiat of this broker "
                                              f"({', '.join(seller.tenant.quote_currencies)}).", field="fiat")
    total = parse_amount(total_amount, field="total_amount", max_decimals=coin_currency.decimals)
    low = parse_amount(min_trade, field="min_trade", max_decimals=coin_currency.decimals)
    high = parse_amount(max_trade, field="max_trade", max_decimals=coin_currency.decimals)
    unit_price = parse_amount(price, field="price", max_decimals=PRICE_DECIMALS)
    if low > high:
        raise DomainError("validation_error", "min_trade is above max_trade.", field="min_trade")
    if high > total:
        raise DomainError("validation_error", "max_trade is above the amount offered.", field="max_trade")
    window = settings.P2P_PAYMENT_WINDOW_MINUTES if payment_window_minutes is None else int(payment_window_minutes)
    if not 5 <= window <= 180:
        raise DomainError("validation_error", "The payment window is 5 to 180 minutes.",
                          field="payment_window_minutes")
    fee_payer = fee_payer or settings.P2P_DEFAULT_FEE_PAYER
    if fee_payer not in FeePayer.values:
        raise DomainError("validation_error", "fee_payer is seller or buyer.", field="fee_payer")
    methods = seller_payment_methods(seller=seller, ids=payment_method_ids, fiat=fiat)
    with transaction.atomic():
        offer = P2POffer.objects.create(
            seller=seller, currency=coin_currency, fiat=fiat, price=unit_price, total_amount=total, remaining=total,
            min_trade=low, max_trade=high, payment_window_minutes=window, fee_payer=fee_payer, terms=terms[:500])
        offer.payment_methods.set(methods)
        P2POfferStatusChange.objects.create(offer=offer, from_status="", to_status=offer.status, actor=seller.user,
                                            reason="Offered in the App")
    return offer


def _offer_move(offer: P2POffer | int, transition: str, *, seller: Customer, reason: str) -> P2POffer:
    with transaction.atomic():
        offer = locked(P2POffer, offer.pk if isinstance(offer, P2POffer) else offer)
        if offer.seller_id != seller.pk:
            raise DomainError("not_found", "No such offer.")
        transition_apply(offer, transition, actor=seller.user, reason=reason)
    return offer


def offer_pause(*, offer: P2POffer | int, seller: Customer) -> P2POffer:
    """No new trades until resumed; trades in progress go on."""
    return _offer_move(offer, "pause", seller=seller, reason="Paused by the seller")


def offer_resume(*, offer: P2POffer | int, seller: Customer) -> P2POffer:
    return _offer_move(offer, "resume", seller=seller, reason="Resumed by the seller")


def offer_withdraw(*, offer: P2POffer | int, seller: Customer) -> P2POffer:
    """For good: no new trades; trades in progress go on to their end."""
    return _offer_move(offer, "withdraw", seller=seller, reason="Withdrawn by the seller")


def _offer_give_back(trade: P2PTrade) -> None:
    """A trade that gave the coins back returns its amount to the offer (locked after the trade)."""
    offer = locked(P2POffer, trade.offer_id)
    offer.remaining = offer.remaining + trade.amount
    offer.save(update_fields=["remaining", "updated_at"])


# --- taking an offer: the trade opens with the seller's coins in escrow ------------------------

def trade_open(*, buyer: Customer, offer: P2POffer | int, amount: str, payment_method_id: int | None = None,
               now: datetime | None = None) -> P2PTrade:
    """The buyer takes ``amount`` of the offer: in one transaction the offer's remainder goes down
    and the seller's coins move to escrow (largest instrument first). Refused when the offer is
    paused, withdrawn or has less left (``offer_unavailable``), outside its min/max, beyond either
    side's KYC daily limit, after the buyer's cancel limit, or when the seller's balance is short."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            offer = locked(P2POffer, int(offer.pk if isinstance(offer, P2POffer) else offer),
                           select_related=("seller__tenant", "seller__user", "currency"))
        except (P2POffer.DoesNotExist, TypeError, ValueError):
            raise DomainError("not_found", "No such offer.", field="offer_id") from None
        if offer.seller.tenant_id != buyer.tenant_id:
            raise DomainError("not_found", "No such offer.")
        if offer.seller_id == buyer.pk:
            raise DomainError("validation_error", "You cannot take your own offer.", field="offer")
        if offer.status != OfferStatus.ACTIVE:
            raise DomainError("offer_unavailable", f"The offer is {offer.status}.")
        value = parse_amount(amount, max_decimals=offer.currency.decimals)
        if value > offer.remaining:
            raise DomainError("offer_unavailable", f"The offer has {offer.remaining.normalize():f} "
                                                   f"{offer.currency_id} left.", field="amount")
        if value < offer.min_trade and value != offer.remaining:
            raise DomainError("amount_below_minimum", f"The offer's minimum is {offer.min_trade.normalize():f}.",
                              field="amount")
        if value > offer.max_trade:
            raise DomainError("amount_above_maximum", f"The offer's maximum is {offer.max_trade.normalize():f}.",
                              field="amount")
        # Both customers locked (ascending id): their daily limits and the buyer's cancel count
        # are read under the lock, so two trades of one customer cannot both slip under the limit.
        parties = {c.pk: c for c in Customer.objects.select_for_update(of=("self",))
                   .filter(pk__in=[buyer.pk, offer.seller_id]).order_by("pk")}
        buyer, seller = parties[buyer.pk], parties[offer.seller_id]
        _kyc_check(buyer, role="buyer")
        _kyc_check(seller, role="seller")
        if buyer_cancels_today(buyer, now=now) >= settings.P2P_BUYER_CANCELS_PER_DAY:
            raise DomainError("cancel_limit_reached", f"You cancelled {settings.P2P_BUYER_CANCELS_PER_DAY} trades "
                                                      "today; take new ones tomorrow (UTC).")
        terms = _trade_terms(offer, value)
        _daily_limit_check(buyer, offer.fiat, terms["fiat_amount"], role="buyer", now=now)
        _daily_limit_check(seller, offer.fiat, terms["fiat_amount"], role="seller", now=now)
        method = payment_method_for_trade(offer=offer, method_id=payment_method_id)

        trade = P2PTrade.objects.create(
            offer=offer, seller=seller, buyer=buyer, currency=offer.currency, fiat=offer.fiat, amount=value,
            price=offer.price, fee_payer=offer.fee_payer, payment_method=method,
            payment_method_label=payment_method_label(method),
            expires_at=now + timedelta(minutes=offer.payment_window_minutes),
            **terms)
        offer.remaining = offer.remaining - value
        offer.save(update_fields=["remaining", "updated_at"])
        split = ledger_p2p_escrow(seller=seller, currency=offer.currency_id, amount=terms["escrow_amount"],
                                  reference=trade.escrow_reference, trade_id=trade.pk)
        trade.escrow_split = [line.as_dict() for line in split]
        trade.save(update_fields=["escrow_split"])
        P2PTradeStatusChange.objects.create(trade=trade, from_status="", to_status=trade.status, actor=buyer.user,
                                            reason=f"Taken from offer O{offer.pk}; "
                                                   f"{terms['escrow_amount'].normalize():f} {offer.currency_id} "
                                                   "in escrow", version=trade.version)
    return trade


# --- the moves of a trade -----------------------------------------------------------------------

def _trade_locked(trade: P2PTrade | int, *, version: int | None, customer: Customer | None = None,
                  allowed: tuple[str, ...] = ()):
    """The trade locked; for a customer's move also their side (a stranger is told the trade does
    not exist before anything else), then the version they saw compared. Returns the trade, or
    (trade, side) when a customer is given."""
    trade = locked(P2PTrade, trade.pk if isinstance(trade, P2PTrade) else trade,
                   select_related=("seller__user", "seller__tenant", "buyer__user", "currency"))
    side = _side(trade, customer, allowed=allowed) if customer is not None else None
    if version is not None and trade.version != _version(version):
        raise DomainError("trade_state_changed", f"The trade is at version {trade.version} ({trade.status}), "
                                                 f"not {version}: reload it and decide again.", field="version")
    return (trade, side) if customer is not None else trade


def _version(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError("validation_error", "Send the trade's version as you saw it.", field="version") from None


def _side(trade: P2PTrade, customer: Customer, *, allowed: tuple[str, ...]) -> str:
    side = trade.side_of(customer)
    if side is None:
        raise DomainError("not_found", "No such trade.")
    if side not in allowed:
        raise DomainError("permission_denied", f"Only the {' or '.join(allowed)} may do this.")
    return side


def _move(trade: P2PTrade, transition: str, *, actor, reason: str, fields: tuple[str, ...] = ()) -> None:
    """Apply a declared move with the next version. A move to where the trade already is is refused
    here (the client saw this version, so asking for it again is a mistake, not a retry)."""
    if not can_proceed(getattr(trade, transition)):
        raise DomainError("invalid_transition", trade.transition_refusal(transition))
    trade.version += 1
    transition_apply(trade, transition, actor=actor, reason=reason, fields=("version", *fields))


def trade_mark_paid(*, trade: P2PTrade | int, customer: Customer, version: int, payer_name: str,
                    payer_account: str, proof, now: datetime | None = None) -> P2PTrade:
    """The buyer says they paid, naming the account they paid from (in their own KYC name) and
    uploading the proof. The release window starts; the sweep alone decides expiry, so a paid
    mark that reaches the trade before the sweep does counts."""
    now = now or timezone.now()
    if not (payer_account or "").strip():
        raise DomainError("validation_error", "Name the account you paid from.", field="payer_account")
    evidence_check(proof, field="proof")
    with transaction.atomic():
        trade, _ = _trade_locked(trade, version=version, customer=customer, allowed=(Side.BUYER,))
        payer_name_check(buyer=trade.buyer, payer_name=payer_name)
        trade.payer_name = payer_name.strip()[:200]
        trade.payer_account = payer_account.strip()[:100]
        trade.paid_at = now
        trade.release_deadline = now + timedelta(minutes=settings.P2P_RELEASE_WINDOW_MINUTES)
        _move(trade, "mark_paid", actor=customer.user, reason=f"Paid from {trade.payer_account} ({trade.payer_name})",
              fields=("payer_name", "payer_account", "paid_at", "release_deadline"))
        evidence = P2PEvidence(trade=trade, side=Side.BUYER, kind=P2PEvidence.Kind.PAYMENT_PROOF,
                               uploaded_by=customer.user, note=f"Paid from {trade.payer_account}")
        evidence.file.save(proof.name.rsplit("/", 1)[-1], proof, save=False)
        evidence.save()
    return trade


def trade_unmark_paid(*, trade: P2PTrade | int, customer: Customer, version: int) -> P2PTrade:
    """The buyer takes the paid mark back, once, before the seller acts (released or appealed
    trades are past this). The payment window keeps its original end."""
    with transaction.atomic():
        trade, _ = _trade_locked(trade, version=version, customer=customer, allowed=(Side.BUYER,))
        if trade.status == Status.BUYER_PAID and trade.paid_undone:
            raise DomainError("invalid_transition", "A paid mark can be taken back only once.")
        trade.paid_undone = True
        trade.paid_at = None
        trade.release_deadline = None
        _move(trade, "unmark_paid", actor=customer.user, reason="The buyer took the paid mark back",
              fields=("paid_undone", "paid_at", "release_deadline"))
    return trade


def _refund(trade: P2PTrade, *, reason: str) -> None:
    ledger_p2p_refund(seller=trade.seller, currency=trade.currency_id, split=_split(trade), trade_id=trade.pk,
                      reason=reason, reference=trade.refund_reference, release_reference=trade.release_reference)
    _offer_give_back(trade)


def _release(trade: P2PTrade) -> None:
    ledger_p2p_release(seller=trade.seller, buyer=trade.buyer, currency=trade.currency_id, fiat=trade.fiat,
                       split=_split(trade), amount=trade.buyer_receives, fee=trade.fee, fee_payer=trade.fee_payer,
                       price=trade.price, fiat_amount=trade.fiat_amount, trade_id=trade.pk,
                       reference=trade.release_reference, refund_reference=trade.refund_reference)


def trade_cancel(*, trade: P2PTrade | int, customer: Customer, version: int, reason: str = "",
                 now: datetime | None = None) -> P2PTrade:
    """Before paid only. The buyer cancels: the escrow goes back to the seller, the amount back to
    the offer (counted towards the buyer's daily cancel limit unless the seller asked first). The
    seller cannot cancel alone: their cancel is a request the buyer's cancel completes ("both")."""
    now = now or timezone.now()
    with transaction.atomic():
        trade, side = _trade_locked(trade, version=version, customer=customer, allowed=(Side.BUYER, Side.SELLER))
        if trade.status != Status.OPEN:
            raise DomainError("not_cancellable", f"A trade that is {trade.status} cannot be cancelled"
                                                 + (": appeal instead." if trade.status == Status.BUYER_PAID else "."))
        if side == Side.SELLER:
            if not trade.seller_cancel_requested:
                trade.seller_cancel_requested = True
                trade.version += 1
                trade.save(update_fields=["seller_cancel_requested", "version", "updated_at"])
                _note(trade, actor=customer.user, reason=f"The seller asked to cancel. {reason}".strip())
            return trade
        trade.cancelled_by = "both" if trade.seller_cancel_requested else Side.BUYER
        trade.closed_at = now
        _refund(trade, reason="cancelled")
        _move(trade, "cancel", actor=customer.user,
              reason=(f"Cancelled by the buyer{' at the seller’s request' if trade.seller_cancel_requested else ''}. "
                      f"{reason}").strip(), fields=("cancelled_by", "closed_at"))
    return trade


def trade_release(*, trade: P2PTrade | int, customer: Customer, version: int, otp: str,
                  now: datetime | None = None) -> P2PTrade:
    """The seller checked their own bank and confirms receipt with a one-time code: escrow → the
    buyer's VA/<venue>/<currency><fiat> instrument, the fee → revenue, one ``p2p_release`` entry;
    no chain transaction. Refused before the buyer marked paid (``not_paid_yet``). While in appeal
    the seller may still release (conceding); the open appeal work order is then cancelled."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            trade, _ = _trade_locked(trade, version=version, customer=customer, allowed=(Side.SELLER,))
            if trade.status == Status.OPEN:
                raise DomainError("not_paid_yet", "The buyer has not marked the trade paid: check your bank, "
                                                  "never release on a screenshot.")
            if trade.status not in (Status.BUYER_PAID, Status.IN_APPEAL):
                raise DomainError("invalid_transition", trade.transition_refusal("release"))
            customer_otp_verify(customer=trade.seller, code=otp)
            appealed = trade.status == Status.IN_APPEAL
            trade.closed_at = now
            _release(trade)
            _move(trade, "release", actor=customer.user, fields=("closed_at",),
                  reason="The seller confirmed receipt and released" + (" during the appeal" if appealed else ""))
            if appealed:
                work_order_cancel(subject=trade, actor=customer.user, reason="The seller released during the appeal")
    except WrongOtp:
        raise customer_otp_failure(customer=customer) from None
    return trade


def trade_appeal(*, trade: P2PTrade | int, customer: Customer, version: int, reason: str,
                 now: datetime | None = None) -> P2PTrade:
    """Either side, once the trade has been in buyer_paid for P2P_APPEAL_AFTER_MINUTES: staff
    decide (``atm.p2p.appeal``). Never released automatically."""
    now = now or timezone.now()
    if not (reason or "").strip():
        raise DomainError("validation_error", "Say why you appeal.", field="reason")
    with transaction.atomic():
        trade, side = _trade_locked(trade, version=version, customer=customer, allowed=(Side.BUYER, Side.SELLER))
        if trade.status == Status.OPEN:
            raise DomainError("appeal_too_early", "An appeal opens once the buyer has marked the trade paid.")
        if trade.status != Status.BUYER_PAID:
            raise DomainError("invalid_transition", trade.transition_refusal("appeal"))
        opens = trade.paid_at + timedelta(minutes=settings.P2P_APPEAL_AFTER_MINUTES)
        if now < opens:
            raise DomainError("appeal_too_early", f"An appeal opens at {opens.isoformat()} "
                                                  f"({settings.P2P_APPEAL_AFTER_MINUTES} minutes after the paid mark).")
        trade.appealed_by = side
        trade.appeal_reason = reason.strip()
        trade.appealed_at = now
        _move(trade, "appeal", actor=customer.user, reason=f"Appealed by the {side}: {trade.appeal_reason}",
              fields=("appealed_by", "appeal_reason", "appealed_at"))
    return trade


def trade_evidence_add(*, trade: P2PTrade | int, customer: Customer, file, note: str = "") -> P2PEvidence:
    """Either side adds evidence (bank statement, chat) to a trade not yet finished. Not a move:
    the version stays."""
    evidence_check(file)
    with transaction.atomic():
        trade = _trade_locked(trade, version=None)
        side = _side(trade, customer, allowed=(Side.BUYER, Side.SELLER))
        if trade.status in P2PTrade.TERMINAL:
            raise DomainError("invalid_transition", f"A trade that is {trade.status} takes no more evidence.")
        evidence = P2PEvidence(trade=trade, side=side, kind=P2PEvidence.Kind.APPEAL, uploaded_by=customer.user,
                               note=(note or "")[:2000])
        evidence.file.save(file.name.rsplit("/", 1)[-1], file, save=False)
        evidence.save()
        _note(trade, actor=customer.user, reason=f"Evidence added by the {side}")
    return evidence


# --- the sweep: it re-reads each trade under lock before acting ---------------------------------

def trade_expire(*, trade: P2PTrade | int, now: datetime | None = None) -> bool:
    """An open trade whose payment window has passed expires: escrow back to the seller, the amount
    back to the offer. Re-read under lock: a trade paid or cancelled meanwhile is left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        trade = _trade_locked(trade, version=None)
        if trade.status != Status.OPEN or trade.expires_at > now:
            return False
        trade.closed_at = now
        _refund(trade, reason="expired")
        _move(trade, "expire", actor=None, reason="The payment window passed without a paid mark",
              fields=("closed_at",))
    return True


def trade_appeal_overdue(*, trade: P2PTrade | int, now: datetime | None = None) -> bool:
    """A paid trade the seller has not released within the release window goes to appeal by
    itself — never to an automatic release. Re-read under lock."""
    now = now or timezone.now()
    with transaction.atomic():
        trade = _trade_locked(trade, version=None)
        if trade.status != Status.BUYER_PAID or trade.release_deadline is None or trade.release_deadline > now:
            return False
        trade.appealed_by = "system"
        trade.appeal_reason = "The seller did not release within the release window."
        trade.appealed_at = now
        _move(trade, "appeal", actor=None, reason=trade.appeal_reason,
              fields=("appealed_by", "appeal_reason", "appealed_at"))
    return True


def trades_sweep(*, now: datetime | None = None, limit: int = 500) -> dict:
    """Beat (``p2p.trades_sweep``): expire unpaid trades past their window, open appeals for paid
    trades past the release window. Candidates are read without locks; each is then re-read under
    its lock by its own transaction."""
    now = now or timezone.now()
    expired = appealed = 0
    for trade_id in P2PTrade.objects.filter(status=Status.OPEN, expires_at__lte=now).order_by("expires_at") \
            .values_list("pk", flat=True)[:limit]:
        expired += trade_expire(trade=trade_id, now=now)
    for trade_id in P2PTrade.objects.filter(status=Status.BUYER_PAID, release_deadline__lte=now) \
            .order_by("release_deadline").values_list("pk", flat=True)[:limit]:
        appealed += trade_appeal_overdue(trade=trade_id, now=now)
    if expired or appealed:
        logger.info("p2p sweep: %d expired, %d to appeal", expired, appealed)
    return {"expired": expired, "appealed": appealed}


# --- staff: appeal decisions through atm.p2p.appeal ---------------------------------------------

def trade_resolution_propose(*, trade: P2PTrade | int, actor, outcome: str, reason: str) -> WorkOrder:
    """A staff member proposes release or refund of a trade in appeal: the ``atm.p2p.appeal`` work
    order opens with them as maker; others decide (two checkers from the flow's threshold)."""
    if outcome not in RESOLUTIONS:
        raise DomainError("validation_error", "The outcome is release or refund.", field="outcome")
    if not (reason or "").strip():
        raise DomainError("validation_error", "Say why (the evidence you relied on).", field="reason")
    if actor is None or not getattr(actor, "is_staff", False):
        raise DomainError("permission_denied", "Only staff propose appeal decisions.")
    with transaction.atomic():
        trade = _trade_locked(trade, version=None)
        if trade.status != Status.IN_APPEAL:
            raise DomainError("invalid_transition", f"A trade that is {trade.status} is not in appeal.")
        open_one = WorkOrder.objects.filter(type=APPEAL_WORK_ORDER, object_id=trade.pk, status=WorkOrder.Status.OPEN,
                                            content_type__app_label="p2p", content_type__model="p2ptrade").first()
        if open_one is not None:
            raise DomainError("invalid_transition", f"WO{open_one.pk} already proposes "
                                                    f"{open_one.context.get('outcome')}: decide or reject it first.")
        work_order = work_order_open(type=APPEAL_WORK_ORDER, subject=trade, maker=actor,
                                     context={"outcome": outcome, "reason": reason.strip(), "version": trade.version})
        _note(trade, actor=actor, reason=f"WO{work_order.pk}: {actor.get_username()} proposes {outcome}: {reason}")
    return work_order


def trade_resolve(*, trade: P2PTrade | int, outcome: str, version: int, actor, reason: str,
                  now: datetime | None = None) -> P2PTrade:
    """The approved decision (called by the work order's handler, inside the deciding transaction):
    ``release`` → resolved_release (the same p2p_release entry as the seller's), ``refund`` →
    resolved_refund. Only while still in appeal at the version the proposal saw; otherwise
    ``trade_state_changed`` and the approval does not happen."""
    now = now or timezone.now()
    if outcome not in RESOLUTIONS:
        raise DomainError("validation_error", "The outcome is release or refund.", field="outcome")
    with transaction.atomic():
        trade = _trade_locked(trade, version=version)
        if trade.status != Status.IN_APPEAL:
            raise DomainError("trade_state_changed", f"The trade is {trade.status}, no longer in appeal.")
        trade.closed_at = now
        if outcome == "release":
            _release(trade)
            _move(trade, "resolve_release", actor=actor, reason=reason, fields=("closed_at",))
        else:
            _refund(trade, reason="resolved_refund")
            _move(trade, "resolve_refund", actor=actor, reason=reason, fields=("closed_at",))
    return trade


def trade_resolution_rejected(*, trade: P2PTrade | int, actor, reason: str) -> None:
    """The proposal was rejected: the trade stays in appeal; the timeline says so."""
    with transaction.atomic():
        trade = _trade_locked(trade, version=None)
        _note(trade, actor=actor, reason=f"Proposed decision rejected: {reason}")
