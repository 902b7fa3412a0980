"""A customer's one-time code, as any app checks it (the P2P release, the fiat sells).

The TOTP devices live in ``withdrawals`` (a floor that apps beside it may not import); it
registers its verifier here in ``WithdrawalsConfig.ready()``. An app calls
``customer_otp_verify`` inside the transaction of the move the code authorises (a refused move
does not burn the code) and, when it raised ``is_wrong_otp``, ``customer_otp_failure_record``
after that transaction rolled back (so the wrong code counts towards the lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import DomainError


@dataclass(frozen=True)
class CustomerOtp:
    verify: Callable[..., None]  # (customer=, code=) -> None, raises DomainError
    wrong: type[Exception]  # the exception of a wrong code for an enrolled device
    failure_record: Callable[..., DomainError]  # (customer=) -> the error to raise


_registered: CustomerOtp | None = None


def customer_otp_register(otp: CustomerOtp) -> None:
    global _registered
    _registered = otp


def _otp() -> CustomerOtp:
    if _registered is None:  # fail closed: no verifier, no move
        raise DomainError("invalid_otp", "One-time codes cannot be checked (no verifier installed).", field="otp")
    return _registered


def customer_otp_verify(*, customer, code: str) -> None:
    if not code:
        raise DomainError("invalid_otp", "The one-time code is required.", field="otp")
    _otp().verify(customer=customer, code=code)


def is_wrong_otp(error: Exception) -> bool:
    return _registered is not None and isinstance(error, _registered.wrong)


def customer_otp_failure_record(*, customer) -> DomainError:
    return _otp().failure_record(customer=customer)
