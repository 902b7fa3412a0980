"""Reads of the customers' address book, for the App API, the admin and the withdrawal request."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import DomainError
from withdrawals.models.addresses import CustomerAddress

Status = CustomerAddress.Status


def _base() -> QuerySet[CustomerAddress]:
    return CustomerAddress.objects.select_related("network", "network__native_currency")


def addresses_for_customer(*, customer, include_revoked: bool = False) -> QuerySet[CustomerAddress]:
    """The customer's address book, newest first; revoked entries only when asked."""
    qs = _base().filter(customer=customer).order_by("-created_at", "-id")
    if not include_revoked:
        qs = qs.exclude(status=Status.REVOKED)
    return qs


def address_get_for_customer(*, customer, address_id) -> CustomerAddress:
    """One of the customer's addresses (any status); another customer's is ``not_found``."""
    try:
        address_id = int(address_id)
    except (TypeError, ValueError):
        raise DomainError("not_found", "No such address.")
    address = _base().filter(customer=customer, pk=address_id).first()
    if address is None:
        raise DomainError("not_found", "No such address.")
    return address


def address_get_usable(*, customer, address_id: int, network, lock: bool = False) -> CustomerAddress:
    """The address a withdrawal of ``customer`` on ``network`` may go to, or the reason it may not.

    Raises DomainError: ``not_found`` (no such address of this customer, revoked included),
    ``network_mismatch`` (registered on another network), ``address_not_verified`` (pending,
    rejected), ``address_cooling_down`` (verified, before ``usable_from``). With ``lock`` the row is
    locked (``SELECT … FOR UPDATE``, inside the caller's transaction) so it cannot be revoked
    while the withdrawal is being created.
    """
    try:
        address_id = int(address_id)
    except (TypeError, ValueError):
        raise DomainError("not_found", "No such address.", field="address_id")
    qs = _base().filter(customer=customer, pk=address_id).exclude(status=Status.REVOKED)
    if lock:
        qs = qs.select_for_update(of=("self",))
    address = qs.first()
    if address is None:
        raise DomainError("not_found", "No such address.", field="address_id")
    if address.network_id != network.pk:
        raise DomainError("network_mismatch", f"The address is registered on {address.network.code}, "
                                              f"not {network.code}.", field="address_id")
    if address.status != Status.VERIFIED:
        raise DomainError("address_not_verified",
                          f"The address is {address.get_status_display().lower()}.", field="address_id")
    if address.usable_from is None or address.usable_from > timezone.now():
        until = address.usable_from.isoformat() if address.usable_from else "later"
        raise DomainError("address_cooling_down", f"The address was verified recently; usable from {until}.",
                          field="address_id")
    return address


def address_is_usable(address: CustomerAddress) -> bool:
    """Verified and past its cool-down (for display: API ``usable``, admin column)."""
    return (address.status == Status.VERIFIED and address.usable_from is not None
            and address.usable_from <= timezone.now())


def addresses_for_admin() -> QuerySet[CustomerAddress]:
    """The admin's list: with the customer and user joined, no N+1."""
    return CustomerAddress.objects.select_related("network", "customer", "customer__user")


def addresses_pending_review() -> QuerySet[CustomerAddress]:
    """The staff review queue: evidence submitted, oldest first."""
    return addresses_for_admin().filter(status=Status.PENDING_REVIEW).order_by("updated_at", "id")

