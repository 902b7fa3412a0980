"""What a work order does to its subject: one handler per work-order type.

``register(type, handler)`` installs a handler; ``get_handler(type)`` finds it. A handler provides

- ``context(subject) -> dict``: what step conditions are evaluated against (amount, currency,
  values in USD/HKD, ...), stored on the work order;
- ``screen(subject, context) -> ScreeningResult | None``: the screening gate (None: not screened);
- ``on_approved(work_order, actor)`` / ``on_rejected(work_order, actor, reason)``: called inside
  the deciding transaction, with the subject's own services;
- ``checker_problems(work_order, actor) -> list[str]``: reasons this person may not approve
  (besides the engine's maker and group checks);
- ``gate_errors(work_order) -> list[str]``: reasons the final approval cannot complete yet;
  ``gate_error_code`` is the DomainError code raised for them;
- ``gate_panel(work_order, user, gate_errors) -> dict | None``: the gate as the approval panel
  shows it (e.g. the travel-rule block with the capture page's URL);
- ``describe(subject) -> str``: one line for lists and the queue.

The app that owns a subject registers its handlers in its ``AppConfig.ready()`` (withdrawals:
``withdrawals.approval_handlers``): approvals knows no subject. The fee-reserve handlers are
this app's own (a fee-reserve request is an approvals model).
"""

from __future__ import annotations

from decimal import Decimal

from approvals.models import WorkOrderType
from approvals.prices import values_in
from approvals.screening import ScreeningResult

_REGISTRY: dict[str, WorkOrderHandler] = {}


class WorkOrderHandler:
    gate_error_code = "approval_blocked"

    def context(self, subject) -> dict:
        return {}

    def screen(self, subject, context: dict) -> ScreeningResult | None:
        return None

    def on_approved(self, work_order, actor) -> None:
        pass

    def on_rejected(self, work_order, actor, reason: str) -> None:
        pass

    def gate_errors(self, work_order) -> list[str]:
        return []

    def checker_problems(self, work_order, actor) -> list[str]:
        """Why ``actor`` may not approve although a member of the step's group (e.g. the account
        whose access the work order grants); refused as ``maker_cannot_approve`` at every step."""
        return []

    def gate_panel(self, work_order, user, gate_errors: list[str]) -> dict | None:
        """What the approval panel shows about the gate (travel rule: required, problems, the
        capture page's URL); None: the type has no gate to show."""
        return None

    def describe(self, subject) -> str:
        return str(subject)


def register(type: str, handler: WorkOrderHandler) -> None:  # noqa: A002 - the contract's name
    _REGISTRY[type] = handler


def get_handler(type: str) -> WorkOrderHandler:  # noqa: A002
    return _REGISTRY.get(type) or WorkOrderHandler()


def valued_context(*, amount: Decimal, currency: str) -> dict:
    """Amount, currency and its USD/HKD values (strings; None when there is no usable price)."""
    values = values_in(currency=currency, amount=amount, quotes=("USD", "HKD"))
    usd, hkd = values["USD"], values["HKD"]
    return {
        "amount": f"{amount.normalize():f}",
        "currency": currency,
        "value_usd": None if usd is None else f"{usd:f}",
        "value_hkd": None if hkd is None else f"{hkd:f}",
    }


class FeeReserveHandler(WorkOrderHandler):
    """``atm.va.main_account_topup`` / ``atm.va.sub_to_main_transfer``: a FeeReserveRequest;
    approval books the ledger transfer."""

    def context(self, request) -> dict:
        ctx = valued_context(amount=request.amount, currency=request.currency.code)
        ctx.update({"kind": request.kind, "tenant": request.tenant.venue_code})
        return ctx

    def on_approved(self, work_order, actor) -> None:
        from approvals.services.fee_reserve import fee_reserve_request_book

        fee_reserve_request_book(request_id=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from approvals.services.fee_reserve import fee_reserve_request_close

        fee_reserve_request_close(request_id=work_order.object_id, actor=actor, reason=reason, transition="reject")

    def describe(self, request) -> str:
        return (f"{request.get_kind_display()} FRR{request.pk}: {request.amount.normalize():f} "
                f"{request.currency.code} ({request.tenant.venue_code})")


register(WorkOrderType.MAIN_ACCOUNT_TOPUP, FeeReserveHandler())
register(WorkOrderType.SUB_TO_MAIN_TRANSFER, FeeReserveHandler())


class DepositBookingHandler(WorkOrderHandler):
    """``atm.va.deposit_book``: a DepositBooking; approval posts the customer's deposit."""

    def context(self, booking) -> dict:
        ctx = valued_context(amount=booking.amount, currency=booking.currency.code)
        ctx.update({"customer": booking.customer.reference, "quote": booking.quote,
                    "cost": None if booking.cost is None else f"{booking.cost:f} {booking.cost_fiat}"})
        return ctx

    def on_approved(self, work_order, actor) -> None:
        from approvals.services.deposits import deposit_booking_book

        deposit_booking_book(booking_id=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from approvals.services.deposits import deposit_booking_close

        deposit_booking_close(booking_id=work_order.object_id, actor=actor, reason=reason, transition="reject")

    def describe(self, booking) -> str:
        cost = "cost unknown" if booking.cost is None else f"cost {booking.cost:f} {booking.cost_fiat}"
        return (f"Deposit DEP{booking.pk}: {booking.amount.normalize():f} {booking.currency.code} for "
                f"{booking.customer.reference} ({cost})")


register(WorkOrderType.DEPOSIT_BOOK, DepositBookingHandler())


class ConfigChangeHandler(WorkOrderHandler):
    """``atm.config.change``: a ConfigChange whose fields loosen a control; approval applies them
    (compare-and-set: refused when a field changed since the proposal), rejection drops them."""

    gate_error_code = "config_change_stale"

    def context(self, change) -> dict:
        return {"target": change.target_label, "fields": sorted(change.changes), "maker_reason": change.reason}

    def gate_errors(self, work_order) -> list[str]:
        from approvals.models import ConfigChange
        from approvals.services.config_changes import config_change_stale_fields

        change = ConfigChange.objects.filter(pk=work_order.object_id).select_related("content_type").first()
        if change is None:
            return ["The configuration change no longer exists."]
        stale = config_change_stale_fields(change)
        if stale:
            return ["The configuration changed since the proposal: " + "; ".join(stale)
                    + ". Reject this change; the maker proposes again."]
        return []

    def on_approved(self, work_order, actor) -> None:
        from approvals.services.config_changes import config_change_apply

        config_change_apply(change_id=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from approvals.services.config_changes import config_change_close

        config_change_close(change_id=work_order.object_id, actor=actor, reason=reason)

    def describe(self, change) -> str:
        return f"{change.target_label}: {change.summary()}"


register(WorkOrderType.CONFIG_CHANGE, ConfigChangeHandler())


class AccessChangeHandler(WorkOrderHandler):
    """``atm.staff.access_change``: an AccessChange (staff status, groups, permissions granted);
    approval applies it, rejection drops it. The account concerned never approves its own access."""

    def context(self, change) -> dict:
        return {"target": change.target_label, "grants": change.summary(), "maker_reason": change.reason}

    def checker_problems(self, work_order, actor) -> list[str]:
        from approvals.models import AccessChange
        from approvals.services.access_changes import access_change_checker_problems

        change = AccessChange.objects.filter(pk=work_order.object_id).first()
        return [] if change is None else access_change_checker_problems(change, actor)

    def on_approved(self, work_order, actor) -> None:
        from approvals.services.access_changes import access_change_apply

        access_change_apply(change_id=work_order.object_id, actor=actor)

    def on_rejected(self, work_order, actor, reason: str) -> None:
        from approvals.services.access_changes import access_change_close

        access_change_close(change_id=work_order.object_id, actor=actor, reason=reason)

    def describe(self, change) -> str:
        return f"{change.target_label}: {change.summary()}"


register(WorkOrderType.STAFF_ACCESS_CHANGE, AccessChangeHandler())
