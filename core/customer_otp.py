"""The customer's one-time code, as any app checks it (fiat, P2P) without importing the app that
keeps the devices (``withdrawals`` registers its TOTP verifier here in its ``ready()``).

``customer_otp_verify(customer=, code=)`` consumes a code inside the caller's transaction and
raises ``WrongOtp`` for a wrong one; the caller then calls ``customer_otp_failure(customer=)``
after its transaction rolled back and raises what it returns (``invalid_otp`` / ``otp_locked``).
"""

from __future__ import annotations

from core.errors import DomainError


class WrongOtp(DomainError):
    """A wrong code for a confirmed device: counted towards ``OTP_MAX_FAILURES``."""

    def __init__(self, detail: str | None = None):
        super().__init__("invalid_otp", detail, field="otp")


_VERIFIER: dict = {}


def register_otp_verifier(*, verify, failure) -> None:
    _VERIFIER["verify"], _VERIFIER["failure"] = verify, failure


def customer_otp_verify(*, customer, code: str) -> None:
    if not code:
        raise DomainError("invalid_otp", "The one-time code is required.", field="otp")
    if "verify" not in _VERIFIER:  # fail closed: no verifier, no move
        raise DomainError("invalid_otp", "No one-time-code verifier is installed.", field="otp")
    _VERIFIER["verify"](customer=customer, code=code)


def customer_otp_failure(*, customer) -> DomainError:
    return _VERIFIER["failure"](customer=customer)
