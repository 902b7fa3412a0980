"""The App's Idempotency-Key header, one rule for every endpoint that takes it (withdrawals, fiat
withdrawals, sells): 1 to 100 printable ASCII characters, no blank at either end. The schema
documents exactly this pattern, so what the schema allows the server accepts and the reverse."""

import re

from drf_spectacular.utils import OpenApiParameter

from core.errors import DomainError

IDEMPOTENCY_KEY = re.compile(r"^[!-~]([ -~]{0,98}[!-~])?$")
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": IDEMPOTENCY_KEY.pattern}


def idempotency_key_checked(key: str | None) -> str:
    """The key as sent, or ``idempotency_key_required`` when it is missing or of another shape."""
    if not IDEMPOTENCY_KEY.fullmatch(key or ""):
        raise DomainError("idempotency_key_required", "Send an Idempotency-Key header: 1 to 100 printable "
                                                      "characters, no blank at either end.")
    return key


def idempotency_header(description: str) -> OpenApiParameter:
    """The header as the schema documents it (required, the pattern above)."""
    return OpenApiParameter("Idempotency-Key", IDEMPOTENCY_KEY_SCHEMA, OpenApiParameter.HEADER, required=True,
                            description=description)
