"""Domain errors: every refusal the console makes has a public code (SPEC.md, "Errors").

Services raise ``DomainError``; the API maps it to ``{"code", "detail", "field"}`` in one
place (``core.api_errors``) and the admin shows ``detail`` as a message.
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
    "login_locked": 429,
    "token_expired": 401,
    "otp_locked": 423,
    "payout_frozen": 423,
    # addresses
    "challenge_used": 409,
    "micropayment_unavailable": 409,
    "micropayment_not_expected": 409,
    "micropayment_not_found": 409,  # staff only: the chain shows no such transfer
    # approvals
    "maker_cannot_approve": 403,
    "already_decided": 409,
    "work_order_closed": 409,
    "travel_rule_required": 409,
    "approval_blocked": 409,
    "config_change_pending": 409,
    "config_change_stale": 409,
    # ledger
    "insufficient_main_account_fees": 409,
    "resolution_refused": 409,
    "ledger_reference_conflict": 409,
    # chains
    "fee_cap_required": 409,
    "chain_mismatch": 409,
    "coin_in_use": 409,
    # fiat
    "duplicate_bank_account": 409,
    "quote_expired": 409,
    "quote_used": 409,
    "price_unavailable": 503,
    "bank_account_not_active": 409,
    "statement_mismatch": 409,
    "batch_exported": 409,
    # p2p
    "trade_state_changed": 409,
    "not_paid_yet": 409,
    "appeal_too_early": 409,
    "cancel_limit_reached": 409,
    "payer_name_mismatch": 400,
    "offer_unavailable": 409,
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
    "payout_frozen": "Withdrawals are paused after a password change, a new OTP device or a new address.",
    "otp_locked": "Too many wrong one-time codes; withdrawals are locked for a while.",
    "token_expired": "The token has expired or was revoked; log in again.",
    "login_locked": "Too many failed logins for this username or from this address; locked for a while.",
    # Beyond SPEC.md's list: the console's own refusals.
    "invalid_transition": "The object's current status does not allow this move.",
    "invalid_signature": "The signature does not prove control of the address.",
    "challenge_expired": "The ownership challenge expired; ask for a new one.",
    "challenge_used": "The ownership challenge was already used.",
    "micropayment_unavailable": "Micropayment proof is not offered on this network.",
    "micropayment_not_expected": "No micropayment was requested for this address.",
    "micropayment_mismatch": "The micropayment seen does not match the one requested.",
    "maker_cannot_approve": "The requester of a work order cannot approve it.",
    "already_decided": "This person already decided on this work order.",
    "work_order_closed": "The work order is no longer open.",
    "travel_rule_required": "Originator and beneficiary data are required before approval.",
    "approval_blocked": "A gate blocks the final approval.",
    "config_change_pending": "A configuration change of the same fields already waits for a second person.",
    "config_change_stale": "The configuration changed since the change was proposed; it cannot apply.",
    "insufficient_main_account_fees": "Insufficient main account fees",
    "resolution_refused": "The chain does not bear out this resolution of the withdrawal.",
    "ledger_reference_conflict": "The posting reference was already used with other amounts.",
    "unknown_currency": "No such currency.",
    "fee_cap_required": "A coin cannot be enabled without a network fee cap.",
    "chain_mismatch": "The chain does not confirm the coin's settings (chain id or token decimals).",
    "coin_in_use": "The coin's decimals cannot change while one of its withdrawals is not finished.",
    # Cash-out to fiat (SPEC.md).
    "invalid_iban": "The IBAN is not valid (format or checksum), or the rail takes none.",
    "invalid_bic": "The BIC is missing or not valid for this account.",
    "invalid_bank_code": "The bank code is not the clearing code of a bank we pay to.",
    "currency_not_on_rail": "The payment rail does not carry this currency.",
    "name_mismatch": "The account holder's name is not the customer's KYC name.",
    "duplicate_bank_account": "The customer already has this bank account.",
    "bank_account_not_active": "The bank account is not active (or still cooling down).",
    "quote_expired": "The quote is no longer firm; ask for a new one.",
    "quote_used": "The quote was already executed.",
    "price_unavailable": "No fresh price for this pair; try again later.",
    "statement_mismatch": "The bank statement does not agree with what it is matched to.",
    "batch_exported": "The payment batch was already exported; its file is kept as it is.",
    # P2P cash-out (SPEC.md, "P2P cash-out with escrow")
    "trade_state_changed": "The trade moved since the version you sent; reload it and decide again.",
    "not_paid_yet": "The buyer has not marked the trade paid; nothing to release.",
    "appeal_too_early": "An appeal opens only after the minimum time in buyer_paid.",
    "cancel_limit_reached": "Today's limit of cancelled trades is reached; try again tomorrow.",
    "payer_name_mismatch": "The payer's name does not match the buyer's KYC name.",
    "offer_unavailable": "The offer is paused, withdrawn, or has less left than asked.",
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
