"""Writes to the customers' address book: register, prove ownership, review, revoke.

Every move follows one recipe: ``transaction.atomic``, lock the row, check the move with
django-fsm's ``can_proceed``, call the transition, save with ``update_fields``, write an
AddressStatusChange (from, to, actor, reason). A refusal is a DomainError and changes nothing.

Ownership is proven one of three ways (CustomerAddress.Method):
- ``signature``: the customer signs a one-time challenge with the address's key
  (EIP-191 on EVM, TRON's message signing, a Bitcoin signed message on BTC);
- ``micropayment``: the customer sends a stated small amount from the address to the
  tenant's deposit address; staff or a task marks it seen;
- ``evidence``: the customer uploads evidence; staff review it (work order
  ``atm.va.address_verify`` when the approvals engine is installed, the admin review queue always).

A verified address becomes usable ``settings.ADDRESS_COOLDOWN`` after verification.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_cancel, work_order_decide, work_order_open
from chains.adapters import adapter_for
from chains.addresses import address_normalize
from chains.models import Network
from core.errors import DomainError
from core.evidence import evidence_check
from core.transitions import transition_apply
from customers.services import customer_freeze_payouts
from withdrawals.models.addresses import AddressChallenge, AddressStatusChange, CustomerAddress

logger = logging.getLogger(__name__)

Status = CustomerAddress.Status
Method = CustomerAddress.Method

WORK_ORDER_TYPE = "atm.va.address_verify"
# Codes this module adds to the public list (status passed explicitly until errors.py lists them).

MAX_SIGNATURE_LENGTH = 1000
LABEL_MAX_LENGTH = 100


# --- the recipe ---------------------------------------------------------------------------

def _lock(address: CustomerAddress) -> CustomerAddress:
    """The row again, locked for this transaction (only the address row, not its joins)."""
    return (CustomerAddress.objects.select_for_update(of=("self",))
            .select_related("network__native_currency", "customer__user", "customer__tenant")
            .get(pk=address.pk))


def _verify(address: CustomerAddress, *, actor, method: str, reason: str, fields: tuple[str, ...] = ()) -> None:
    now = timezone.now()
    address.verification_method = method
    address.verified_at = now
    address.usable_from = now + settings.ADDRESS_COOLDOWN
    transition_apply(address, "verify", actor=actor, reason=reason,
          fields=("verification_method", "verified_at", "usable_from", *fields))


def _require_open(address: CustomerAddress, what: str) -> None:
    """Ownership proofs are for addresses still awaiting verification."""
    if address.status not in (Status.PENDING_VERIFICATION, Status.PENDING_REVIEW):
        raise DomainError("invalid_transition",
                          f"The address is {address.get_status_display().lower()}; {what} is not possible.")


# --- register ----------------------------------------------------------------------------

def _clean_text(value: str, *, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise DomainError("validation_error", f"At most {max_length} characters.", field=field)
    return value


def address_create(*, customer, network_code: str, address: str, label: str = "", memo: str = "") -> CustomerAddress:
    """Register an external address of ``customer`` on a network; it starts pending verification."""
    network = Network.objects.select_related("native_currency").filter(code=(network_code or "").upper()).first()
    if network is None:
        raise DomainError("validation_error", f"Unknown network {network_code!r}.", field="network")
    normalized = address_normalize(network=network, address=address)
    label = _clean_text(label, field="label", max_length=LABEL_MAX_LENGTH)
    memo = _clean_text(memo, field="memo", max_length=LABEL_MAX_LENGTH)
    duplicate = DomainError("duplicate_address", f"You already have {normalized} on {network.code}.", field="address")
    with transaction.atomic():
        live = CustomerAddress.objects.filter(customer=customer, network=network, address=normalized,
                                              status__in=CustomerAddress.ACTIVE_STATUSES)
        if live.exists():
            raise duplicate
        # A review's rejection sticks: registering the address again must not reopen it.
        if CustomerAddress.objects.filter(customer=customer, network=network, address=normalized,
                                          status=Status.REJECTED).exists():
            raise DomainError("duplicate_address", f"{normalized} on {network.code} was rejected on review and "
                                                   "cannot be registered again; contact support.", field="address")
        try:
            with transaction.atomic():  # the unique constraint settles a race between two requests
                entry = CustomerAddress.objects.create(customer=customer, network=network, address=normalized,
                                                       label=label, memo=memo)
        except IntegrityError:
            raise duplicate
        AddressStatusChange.objects.create(address=entry, from_status="", to_status=entry.status,
                                           actor=customer.user, reason="Registered by the customer.")
        # A new address pauses every withdrawal of the customer (account take-over: a stolen login
        # adds its own address first). The demo seeds its addresses without this service.
        customer_freeze_payouts(customer=customer, reason=f"New address on {network.code}")
    return entry


# --- proof (a): signed challenge --------------------------------------------------------------

def _challenge_message(address: CustomerAddress, *, nonce: str, expires_at) -> str:
    customer = address.customer
    return (
        f"{customer.tenant.name}: proof of address ownership\n"
        f"I, customer {customer.reference}, control this address and register it for withdrawals.\n"
        f"Network: {address.network.code}\n"
        f"Address: {address.address}\n"
        f"Nonce: {nonce}\n"
        f"Expires: {expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )


def address_challenge_issue(*, address: CustomerAddress) -> AddressChallenge:
    """A one-time message for the customer to sign with the address's key (valid ADDRESS_CHALLENGE_TTL)."""
    with transaction.atomic():
        address = _lock(address)
        _require_open(address, "a signature challenge")
        nonce = secrets.token_hex(16)
        expires_at = (timezone.now() + settings.ADDRESS_CHALLENGE_TTL).replace(microsecond=0)
        return AddressChallenge.objects.create(
            address=address, nonce=nonce, expires_at=expires_at,
            message=_challenge_message(address, nonce=nonce, expires_at=expires_at))


def _signature_valid(address: CustomerAddress, *, message: str, signature: str) -> bool:
    """Whether the adapter accepts ``signature``; a malformed signature is simply not valid."""
    adapter = adapter_for(address.network)
    try:
        return bool(adapter.verify_message(address=address.address, message=message, signature=signature))
    except NotImplementedError:
        raise
    except Exception as exc:  # untrusted input: whatever the library says, it is not a valid signature
        logger.info("address %s: signature refused by the %s adapter: %s", address.pk, address.network.kind,
                    type(exc).__name__)
        return False


def address_verify_signature(*, address: CustomerAddress, nonce: str, signature: str) -> CustomerAddress:
    """Verify the address with a signature over one of its unexpired, unused challenges."""
    now = timezone.now()
    with transaction.atomic():
        _cancel_open_review(address, actor=address.customer.user, reason="Ownership proven by a signature.")
        address = _lock(address)
        challenge = (AddressChallenge.objects.select_for_update()
                     .filter(address=address, nonce=str(nonce or "")).first())
        if challenge is None:
            raise DomainError("invalid_signature", "No such challenge for this address; request a new one.",
                              field="nonce")
        if challenge.used_at is not None:  # a replay: each challenge proves ownership once
            raise DomainError("challenge_used", "This challenge was already used; request a new one.", field="nonce")
        if challenge.expires_at <= now:
            raise DomainError("challenge_expired", "This challenge has expired; request a new one.", field="nonce")
        _require_open(address, "verification")
        signature = str(signature or "").strip()
        if not signature or len(signature) > MAX_SIGNATURE_LENGTH or not _signature_valid(
                address, message=challenge.message, signature=signature):
            raise DomainError("invalid_signature",
                              "The signature was not made by this address's key over the challenge.", field="signature")
        challenge.used_at = now
        challenge.save(update_fields=["used_at"])
        _verify(address, actor=address.customer.user, method=Method.SIGNATURE,
                reason=f"Signed challenge {challenge.nonce}.")
    return address


# --- proof (b): micropayment ------------------------------------------------------------------

def _deposit_address(network: Network) -> str:
    deposit = getattr(settings, "ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES", {}).get(network.code, "")
    if not deposit:
        raise DomainError("micropayment_unavailable",
                          f"Micropayment verification is not available on {network.code}; sign a challenge instead.",
                          field="method")
    return deposit


def _micropayment_amount(network: Network) -> Decimal:
    """A small random amount (1000–9999 units of at most 8 decimals) to tell payments apart."""
    places = min(network.native_currency.decimals, 8)
    taken = set(CustomerAddress.objects.filter(network=network, status=Status.PENDING_VERIFICATION,
                                               micropayment_amount__isnull=False)
                .values_list("micropayment_amount", flat=True))
    for _ in range(20):
        amount = Decimal(1000 + secrets.randbelow(9000)).scaleb(-places)
        if amount not in taken:
            return amount
    return amount


def address_micropayment_expect(*, address: CustomerAddress) -> CustomerAddress:
    """State the amount the customer sends from the address to the tenant's deposit address.

    Idempotent: asked again, the same amount and deposit address are answered.
    """
    with transaction.atomic():
        address = _lock(address)
        if address.status != Status.PENDING_VERIFICATION:
            raise DomainError("invalid_transition", f"The address is {address.get_status_display().lower()}; "
                                                    "a micropayment is not possible.")
        if address.micropayment_amount is not None:
            return address
        address.micropayment_to = _deposit_address(address.network)
        address.micropayment_amount = _micropayment_amount(address.network)
        address.save(update_fields=["micropayment_to", "micropayment_amount", "updated_at"])
    return address


def address_micropayment_seen(*, address: CustomerAddress, actor, tx_hash: str, amount: Decimal | None = None,
                              reason: str = "") -> CustomerAddress:
    """The expected micropayment is proven: the address is verified.

    Called only with proof: by ``address_micropayment_confirm`` when the chain shows the transfer,
    or by the approvals engine when a micropayment claim's work order is approved (two people).
    No admin path calls it on one person's word.
    """
    tx_hash = (tx_hash or "").strip()
    if not tx_hash:
        raise DomainError("validation_error", "The transaction hash is required.", field="tx_hash")
    with transaction.atomic():
        _cancel_open_review(address, actor=actor, reason="Ownership proven by a micropayment.")
        address = _lock(address)
        if address.status == Status.VERIFIED and address.verification_method == Method.MICROPAYMENT:
            return address  # seen twice (a task re-scanning): nothing to do
        if address.micropayment_amount is None:
            raise DomainError("micropayment_not_expected", "No micropayment was requested for this address.")
        if amount is not None and Decimal(amount) != address.micropayment_amount:
            raise DomainError("micropayment_mismatch", f"Expected {address.micropayment_amount.normalize():f}, "
                                                f"saw {Decimal(amount).normalize():f}.", field="amount")
        address.micropayment_tx_hash = tx_hash[:100]
        _verify(address, actor=actor, method=Method.MICROPAYMENT,
                reason=reason or f"Micropayment of {address.micropayment_amount.normalize():f} "
                                 f"{address.network.native_currency.code} seen in {tx_hash}.",
                fields=("micropayment_tx_hash",))
    return address


MICROPAYMENT_SCAN_BLOCKS_DEFAULT = 5000


def _micropayment_scan_blocks() -> int:
    return int(getattr(settings, "ADDRESS_MICROPAYMENT_SCAN_BLOCKS", MICROPAYMENT_SCAN_BLOCKS_DEFAULT))


def address_micropayment_confirm(*, address: CustomerAddress, actor, tx_hash: str = "", reason: str = ""):
    """Staff report the micropayment of an address as arrived. Returns (address, work_order).

    Where the network's adapter reads transfers (EVM), the chain decides: the newest
    ADDRESS_MICROPAYMENT_SCAN_BLOCKS blocks must hold a successful transfer of exactly the stated
    amount from the address to the deposit address; then the address is verified (work_order is
    None), else ``micropayment_not_found`` and nothing changes. Where it cannot, the claim (with
    its ``tx_hash``) becomes an ``atm.va.address_verify`` work order whose maker is the claimant:
    the address waits in review until a second person approves it.
    """
    from chains.adapters.base import TransientChainError

    address = CustomerAddress.objects.select_related("network__native_currency").get(pk=address.pk)
    if address.status != Status.PENDING_VERIFICATION:
        raise DomainError("invalid_transition", f"The address is {address.get_status_display().lower()}; "
                                                "a micropayment cannot verify it.")
    if address.micropayment_amount is None:
        raise DomainError("micropayment_not_expected", "No micropayment was requested for this address.")
    amount, unit = address.micropayment_amount, address.network.native_currency.code
    try:
        found = adapter_for(address.network).find_transfer(
            from_address=address.address, to_address=address.micropayment_to, amount=amount,
            blocks=_micropayment_scan_blocks())
    except NotImplementedError:
        return address, _micropayment_claim(address, actor=actor, tx_hash=tx_hash, reason=reason)
    except TransientChainError as exc:
        raise DomainError("micropayment_not_found", f"The {address.network.code} node could not be read "
                                                    f"({exc}); nothing changed, try again.") from None
    if found is None:
        raise DomainError("micropayment_not_found", f"No transfer of {amount.normalize():f} {unit} from "
                                                    f"{address.address} to {address.micropayment_to} in the last "
                                                    f"{_micropayment_scan_blocks()} blocks; nothing changed.")
    verified = address_micropayment_seen(
        address=address, actor=actor, tx_hash=found, amount=amount,
        reason=f"Micropayment of {amount.normalize():f} {unit} found on chain in {found} (checked by {actor}).")
    return verified, None


def _micropayment_claim(address: CustomerAddress, *, actor, tx_hash: str, reason: str):
    tx_hash = (tx_hash or "").strip()[:100]
    if not tx_hash:
        raise DomainError("validation_error", f"The {address.network.code} chain cannot be read here: give the "
                                              "transaction hash for a second person to check.", field="tx_hash")
    with transaction.atomic():
        address = _lock(address)
        if not can_proceed(address.submit_for_review):
            raise DomainError("invalid_transition", f"The address is {address.get_status_display().lower()}.")
        amount = address.micropayment_amount
        transition_apply(address, "submit_for_review", actor=actor,
                         reason=reason or f"Micropayment claimed seen in {tx_hash} by {actor}; a second person "
                                          "decides on the work order.")
        return work_order_open(type=WORK_ORDER_TYPE, subject=address, maker=actor, context={
            "method": Method.MICROPAYMENT, "tx_hash": tx_hash, "micropayment_amount": f"{amount.normalize():f}",
            "micropayment_currency": address.network.native_currency.code, "from_address": address.address,
            "to_address": address.micropayment_to, "claimed_by": str(actor),
        })


# --- proof (c): evidence and staff review -------------------------------------------------------


def _open_review_work_order(address: CustomerAddress):
    """Open the ``atm.va.address_verify`` work order."""
    return work_order_open(
        type=WORK_ORDER_TYPE,
        subject=address,
        maker=address.customer.user,
        context={
            "customer": address.customer.reference,
            "network": address.network.code,
            "address": address.address,
            "label": address.label,
            "evidence": address.evidence.name,
        },
    )


def _cancel_open_review(address: CustomerAddress, *, actor, reason: str) -> None:
    """Close the address's open review work order when the address leaves review another way
    (revoked, verified by a signature, decided directly). Called *before* the address row is
    locked, so locks are taken work order first, address second, as the approvals engine does.
    A no-op when the engine itself is deciding (it has closed its work order already).
    """
    if not CustomerAddress.objects.filter(pk=address.pk, status=Status.PENDING_REVIEW).exists():
        return
    work_order_cancel(subject=address, actor=actor, reason=reason)


def _open_review(address: CustomerAddress):
    """The address's open ``atm.va.address_verify`` work order, or None."""
    work_order = work_order_for_subject(address, type=WORK_ORDER_TYPE)
    return work_order if work_order is not None and work_order.status == "open" else None


def address_submit_evidence(*, address: CustomerAddress, file) -> CustomerAddress:
    """Store the customer's evidence and put the address up for staff review."""
    evidence_check(file)
    with transaction.atomic():
        address = _lock(address)
        if not can_proceed(address.submit_for_review):
            raise DomainError("invalid_transition", f"The address is {address.get_status_display().lower()}; "
                                                    "evidence cannot be submitted.")
        address.evidence.save(PurePath(file.name).name, file, save=False)
        address.verification_method = Method.EVIDENCE
        transition_apply(address, "submit_for_review", actor=address.customer.user,
                         reason="Evidence submitted for review.", fields=("evidence", "verification_method"))
        _open_review_work_order(address)
    return address


def address_mark_verified(*, address: CustomerAddress, actor, method: str, reason: str = "") -> CustomerAddress:
    """Staff (or the approvals engine, on approval of the work order) verify the address."""
    if method not in Method.values:
        raise DomainError("validation_error", f"Unknown verification method {method!r}.", field="method")
    reason = reason or "Verified by staff review."
    with transaction.atomic():
        _cancel_open_review(address, actor=actor, reason=f"Address verified directly: {reason}")
        address = _lock(address)
        if address.status == Status.VERIFIED:
            return address
        _verify(address, actor=actor, method=method, reason=reason)
    return address


def address_reject(*, address: CustomerAddress, actor, reason: str) -> CustomerAddress:
    """Staff (or the approvals engine) refuse the address; the row stays as history."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "A reason is required.", field="reason")
    with transaction.atomic():
        _cancel_open_review(address, actor=actor, reason=f"Address rejected directly: {reason}")
        address = _lock(address)
        if address.status == Status.REJECTED:
            return address
        address.reason = reason
        transition_apply(address, "reject", actor=actor, reason=reason, fields=("reason",))
    return address


def address_revoke(*, address: CustomerAddress, actor, reason: str = "") -> CustomerAddress:
    """Take the address out of the book (the App's DELETE); the row and its history stay."""
    reason = (reason or "").strip() or "Removed by the customer."
    with transaction.atomic():
        _cancel_open_review(address, actor=actor, reason=f"Address revoked: {reason}")
        address = _lock(address)
        if address.status == Status.REVOKED:
            return address
        address.reason = reason
        transition_apply(address, "revoke", actor=actor, reason=address.reason, fields=("reason",))
    return address


def address_review_decide(*, address: CustomerAddress, actor, approve: bool, reason: str) -> CustomerAddress:
    """A staff decision on an address under review, from the admin's review queue.

    The decision goes through the address's ``atm.va.address_verify`` work order: its flow,
    groups and maker-checker rules apply (on its last approval it calls ``address_mark_verified``,
    on a rejection ``address_reject``). No staff member verifies an address alone.
    """
    work_order = _open_review(address)
    if work_order is None:
        raise DomainError("invalid_transition", "The address has no open review work order to decide.")

    work_order_decide(work_order=work_order, actor=actor, decision="approve" if approve else "reject",
                      comment=reason)
    address.refresh_from_db()
    return address
