"""Hot-wallet reconciliation (docs/PIPELINE.md, "Reconciliation").

* ``hot_wallet_opening_record``: staff record what a hot wallet held at a moment; it counts once
  a second Treasury member approves its work order ``atm.va.hot_wallet_opening``
  (``hot_wallet_opening_activate`` / ``hot_wallet_opening_reject``, called by the handler).
* ``reconciliation_run`` (task ``withdrawals.reconcile_hot_wallets``, beat every 10 minutes):
  per network with a hot key, per currency (the native one and each token coin's), the chain
  balance against the expected range (``withdrawals.selectors.reconciliation``). Outside it by more
  than the dust → ``reconciliation_alert_raise``: an alert row, an ERROR log line, sending paused
  on the network, and the acknowledgement work order ``atm.va.reconciliation_ack`` opened.
* ``reconciliation_alert_acknowledge``: one Treasury member's approval of that work order, with a
  reason; the second distinct approval calls ``reconciliation_alert_close``, which marks the alert
  acknowledged and lifts the pause if the reconciliation set it and no other alert holds it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from approvals.models import WorkOrder, WorkOrderType
from approvals.services.work_orders import work_order_decide, work_order_open
from chains.adapters import CoinConfig, TransientChainError, adapter_for, coin_config
from chains.hot_wallets import HotKeyMissing, hot_address
from chains.models import Coin, Currency, KillSwitchChange, Network
from chains.services import sending_pause_set
from core.amounts import format_amount
from core.errors import DomainError
from core.transitions import locked, transition_apply, transition_apply_all
from withdrawals.models import HotWalletOpening, ReconciliationAlert
from withdrawals.selectors.reconciliation import (
    Expected,
    hot_wallet_expected,
    hot_wallet_opening_active,
    reconciliation_alerts_open,
    reconciliation_dust,
)

logger = logging.getLogger(__name__)

PAUSE_REASON_PREFIX = "Reconciliation alert"


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "A reason is required.", field="reason")
    return reason


def _staff(actor) -> None:
    if actor is None or not actor.is_active or not actor.is_staff:
        raise DomainError("permission_denied", "Only active staff may do this.")


# --- opening balances ---------------------------------------------------------------------------

def hot_wallet_opening_record(*, network: Network, address: str, currency: Currency, amount: Decimal,
                              as_of: datetime, actor, reason: str) -> HotWalletOpening:
    """Record what ``address`` held of ``currency`` at ``as_of`` (pending until a second Treasury
    member approves the work order ``atm.va.hot_wallet_opening``; the recorder is its maker)."""
    _staff(actor)
    reason = _reason(reason)
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise DomainError("validation_error", "The amount is a decimal, zero or more.", field="amount")
    if amount != amount.quantize(Decimal(1).scaleb(-currency.decimals)):
        raise DomainError("amount_precision", f"More than {currency.code}'s {currency.decimals} decimals.",
                          field="amount")
    if as_of > timezone.now():
        raise DomainError("validation_error", "as_of is in the future.", field="as_of")
    address = adapter_for(network).normalize_address(address, address_network=network.address_network)
    with transaction.atomic():
        opening = HotWalletOpening.objects.create(network=network, address=address, currency=currency,
                                                  amount=amount, as_of=as_of, reason=reason, recorded_by=actor)
        work_order_open(type=WorkOrderType.HOT_WALLET_OPENING, subject=opening, maker=actor)
    logger.info("hot-wallet opening %s recorded by %s: %s", opening, actor, reason)
    return opening


def hot_wallet_opening_activate(*, opening: HotWalletOpening | int, actor) -> HotWalletOpening:
    """The work order approved: this opening replaces the wallet's active one (which is superseded)."""
    with transaction.atomic():
        pk = opening.pk if isinstance(opening, HotWalletOpening) else opening
        opening = locked(HotWalletOpening, pk)
        if opening.status != HotWalletOpening.Status.PENDING:
            return opening
        previous = HotWalletOpening.objects.select_for_update().filter(
            network=opening.network_id, address=opening.address, currency=opening.currency_id,
            status=HotWalletOpening.Status.ACTIVE)
        transition_apply_all(list(previous), "supersede", actor=actor, reason=f"Replaced by opening {opening.pk}")
        opening.decided_by, opening.decided_at = actor, timezone.now()
        transition_apply(opening, "activate", actor=actor, reason="Work order approved",
                         fields=("decided_by", "decided_at"))
    logger.info("hot-wallet opening %s active (approved by %s)", opening, actor)
    return opening


def hot_wallet_opening_reject(*, opening: HotWalletOpening | int, actor, reason: str) -> HotWalletOpening:
    with transaction.atomic():
        pk = opening.pk if isinstance(opening, HotWalletOpening) else opening
        opening = locked(HotWalletOpening, pk)
        if opening.status != HotWalletOpening.Status.PENDING:
            return opening
        opening.decided_by, opening.decided_at = actor, timezone.now()
        transition_apply(opening, "reject", actor=actor, reason=reason, fields=("decided_by", "decided_at"))
    logger.info("hot-wallet opening %s rejected by %s: %s", opening, actor, reason)
    return opening


# --- the run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WalletCheck:
    network: str
    address: str
    currency: str
    outcome: str  # ok | alert | no_opening | unreadable
    detail: str = ""
    actual: str | None = None
    expected_low: str | None = None
    expected_high: str | None = None
    alert_id: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def hot_wallet_currencies(network: Network) -> list[tuple[Currency, CoinConfig]]:
    """The native currency, then each token coin's currency on the network."""
    native = network.native_currency
    pairs = [(native, CoinConfig(currency=native.code, decimals=native.decimals))]
    tokens = Coin.objects.filter(network=network).exclude(contract_address="").select_related("currency")
    for coin in tokens.order_by("currency__code"):
        if all(currency.pk != coin.currency_id for currency, _ in pairs):
            pairs.append((coin.currency, coin_config(coin)))
    return pairs


def reconciliation_run(*, network_code: str | None = None) -> list[WalletCheck]:
    """Reconcile every hot wallet (or those of one network). A node that cannot answer is
    reported ``unreadable`` and logged (never an alert: the next run tries again)."""
    networks = Network.objects.select_related("native_currency").order_by("code")
    if network_code:
        networks = networks.filter(code=network_code)
    checks: list[WalletCheck] = []
    for network in networks:
        try:
            address = hot_address(network)
        except HotKeyMissing:
            continue
        adapter = adapter_for(network)
        for currency, config in hot_wallet_currencies(network):
            checks.append(_check(network=network, address=address, currency=currency, config=config,
                                 adapter=adapter))
    return checks


def _check(*, network, address, currency, config, adapter) -> WalletCheck:
    base = {"network": network.code, "address": address, "currency": currency.code}
    opening = hot_wallet_opening_active(network=network, address=address, currency=currency)
    if opening is None:
        logger.warning("reconciliation: no opening balance for %s %s %s: not reconciled", network.code,
                       address, currency.code)
        return WalletCheck(**base, outcome="no_opening", detail="No active opening balance.")
    # The database before and after the chain: a withdrawal that moves between the reads is in
    # flight (or settled) in one of them, so the union of both ranges never misses it.
    before = hot_wallet_expected(opening=opening)
    try:
        actual = Decimal(adapter.balance(config, address))
    except TransientChainError as exc:
        logger.warning("reconciliation: %s %s balance unreadable: %s", network.code, currency.code, exc)
        return WalletCheck(**base, outcome="unreadable", detail=str(exc))
    expected = before.union(hot_wallet_expected(opening=opening))
    dust = reconciliation_dust(currency)
    shown = {"actual": format_amount(actual), "expected_low": format_amount(expected.low),
             "expected_high": format_amount(expected.high)}
    if expected.low - dust <= actual <= expected.high + dust:
        return WalletCheck(**base, outcome="ok", **shown)
    alert = reconciliation_alert_raise(network=network, address=address, currency=currency, opening=opening,
                                       expected=expected, actual=actual, dust=dust)
    return WalletCheck(**base, outcome="alert", detail=alert.reason, alert_id=alert.pk, **shown)


def reconciliation_alert_raise(*, network: Network, address: str, currency: Currency, opening: HotWalletOpening,
                               expected: Expected, actual: Decimal, dust: Decimal) -> ReconciliationAlert:
    """Record the discrepancy (one open alert per wallet and currency), pause sending on the
    network, open the acknowledgement work order. A discrepancy already alerted only touches
    its alert, and pauses again if someone resumed sending while it is open."""
    difference = actual - (expected.high if actual > expected.high else expected.low)
    reason = (f"{network.code} hot wallet {address} holds {format_amount(actual)} {currency.code}, expected "
              f"{format_amount(expected.low)}–{format_amount(expected.high)} (opening "
              f"{format_amount(opening.amount)} as of {opening.as_of:%Y-%m-%d %H:%M} UTC, "
              f"{format_amount(expected.settled_out)} settled out, {expected.in_flight_orders} in flight): "
              f"{'+' if difference > 0 else ''}{format_amount(difference)} {currency.code}")
    with transaction.atomic():
        alert = (ReconciliationAlert.objects.select_for_update()
                 .filter(network=network, address=address, currency=currency, acknowledged_at=None).first())
        created = alert is None
        if created:
            alert = ReconciliationAlert.objects.create(
                network=network, address=address, currency=currency, opening=opening, expected_low=expected.low,
                expected_high=expected.high, actual=actual, difference=difference, dust=dust, reason=reason)
            work_order_open(type=WorkOrderType.RECONCILIATION_ACK, subject=alert, maker=None)
        else:
            alert.save(update_fields=["last_seen_at"])
        paused = sending_pause_set(network=network, paused=True, actor=None,
                                   reason=f"{PAUSE_REASON_PREFIX} RA{alert.pk}: {reason}")
        if paused and not alert.paused_sending:
            alert.paused_sending = True
            alert.save(update_fields=["paused_sending"])
    if created:
        logger.error("reconciliation alert RA%s: %s; sending paused on %s", alert.pk, reason, network.code)
    return alert


# --- acknowledgement ----------------------------------------------------------------------------

def reconciliation_alert_acknowledge(*, alert: ReconciliationAlert | int, actor, reason: str) -> ReconciliationAlert:
    """One staff member's acknowledgement (an approval of the alert's ``atm.va.reconciliation_ack``
    work order, with ``reason``). The flow needs two distinct Treasury members; the second one's
    approval closes the alert (``reconciliation_alert_close``). A rejected acknowledgement leaves
    the alert open, and the next acknowledgement opens a new work order."""
    reason = _reason(reason)
    pk = alert.pk if isinstance(alert, ReconciliationAlert) else alert
    with transaction.atomic():
        alert = ReconciliationAlert.objects.select_for_update().get(pk=pk)
        if not alert.is_open:
            raise DomainError("work_order_closed", f"RA{alert.pk} is already acknowledged.")
        work_order = work_order_open(type=WorkOrderType.RECONCILIATION_ACK, subject=alert, maker=None)
    work_order_decide(work_order=work_order, actor=actor, decision="approve", comment=reason)
    alert.refresh_from_db()
    return alert


def reconciliation_alert_close(*, alert: ReconciliationAlert | int, work_order: WorkOrder,
                               actor) -> ReconciliationAlert:
    """The acknowledgement work order approved: the alert is acknowledged (with the approvers'
    reasons) and sending resumes on the network, unless another open alert holds it or the pause
    in force is not the reconciliation's (staff paused it for their own reasons: left alone)."""
    pk = alert.pk if isinstance(alert, ReconciliationAlert) else alert
    with transaction.atomic():
        alert = ReconciliationAlert.objects.select_for_update().select_related("network").get(pk=pk)
        if not alert.is_open:
            return alert
        reasons = [f"{d.actor}: {d.comment}" for d in work_order.decisions.select_related("actor").order_by("at")]
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_reason = "; ".join(reasons)
        alert.save(update_fields=["acknowledged_at", "acknowledged_reason"])
        network = alert.network
        others = reconciliation_alerts_open(network=network).exclude(pk=alert.pk).exists()
        last = KillSwitchChange.objects.filter(network=network).order_by("-at", "-id").first()
        ours = (last is not None and last.paused and last.actor_id is None
                and last.reason.startswith(PAUSE_REASON_PREFIX))
        if not others and ours:
            sending_pause_set(network=network, paused=False, actor=actor,
                              reason=f"RA{alert.pk} acknowledged (WO{work_order.pk}): {alert.acknowledged_reason}")
    logger.warning("reconciliation alert RA%s acknowledged: %s", alert.pk, alert.acknowledged_reason)
    return alert
