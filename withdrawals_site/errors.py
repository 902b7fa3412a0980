"""Domain errors: every refusal the console makes has a public code (SPEC.md, "Errors").

Services raise ``DomainError``; the API maps it to ``{"code", "detail", "field"}`` in one
place (``withdrawals_site.api_errors``) and the admin shows ``detail`` as a message.
"""

from __future__ import annotations

# The HTTP status of each public code. A code not listed is a 400.
ERROR_STATUS: dict[str, int] = {
    "unauthenticated": 401,
    "permission_denied": 403,
    "kyc_required": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "duplicate_address": 409,
    "idempotency_conflict": 409,
    "not_cancellable": 409,
    "invalid_transition": 409,
    "throttled": 429,
}

# Every code the App API can answer with, and what it means (documented in the OpenAPI schema).
ERROR_CODES: dict[str, str] = {
    "invalid_address": "The address is not a valid address of any supported network.",
    "network_mismatch": "The address belongs to another network than the coin's.",
    "duplicate_address": "The customer already has this address on this network.",
    "address_not_verified": "The address has not completed verification.",
    "address_cooling_down": "The address was verified recently and is not usable yet.",
    "coin_disabled": "Withdrawals of this coin are switched off.",
    "unknown_coin": "No such currency on such network.",
    "invalid_amount": "The amount is not a plain decimal string.",
    "amount_not_positive": "The amount must be greater than zero.",
    "amount_precision": "The amount has more decimals than the coin allows.",
    "amount_below_minimum": "The amount is below the coin's minimum.",
    "amount_above_maximum": "The amount is above the coin's maximum.",
    "insufficient_balance": "The available balance does not cover amount and fee.",
    "daily_limit_exceeded": "The amount would exceed today's limit for this coin.",
    "kyc_required": "The customer's KYC does not allow withdrawals.",
    "invalid_otp": "The one-time code is wrong, expired or already used.",
    "idempotency_key_required": "The Idempotency-Key header is required.",
    "idempotency_conflict": "The Idempotency-Key was used with another request body.",
    "not_cancellable": "The withdrawal can no longer be cancelled.",
    "validation_error": "A field is missing or malformed; `field` names it.",
    "unauthenticated": "No valid credentials were given.",
    "permission_denied": "The credentials do not allow this.",
    "not_found": "No such object (or not yours).",
    "method_not_allowed": "The method is not allowed on this endpoint.",
    "throttled": "Too many requests; retry later.",
}


class DomainError(Exception):
    """A refusal with a public code. Raising it must leave nothing changed."""

    def __init__(self, code: str, detail: str | None = None, *, field: str | None = None,
                 status: int | None = None):
        self.code = code
        self.detail = detail or ERROR_CODES.get(code, code)
        self.field = field
        self.status = status or ERROR_STATUS.get(code, 400)
        super().__init__(f"{code}: {self.detail}")

    def as_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail, "field": self.field}
