"""Webhook signatures: HMAC-SHA256 over ``timestamp + "." + raw body``.

Every delivery carries ``Webhook-Signature: t=<unix seconds>,v1=<hex digest>`` (and the event id
in ``Webhook-Id``). A receiver recomputes the digest over the exact bytes it received, compares
in constant time and refuses a timestamp older (or newer) than a few minutes, so a captured
request cannot be replayed later. ``signature_verify`` does all three; docs/WEBHOOKS.md shows
the same check in a dozen lines for receivers that do not run this code.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request is not from the console, was changed, or is too old."""


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},v1={signature_compute(secret=secret, timestamp=timestamp, body=body)}"


def signature_verify(*, secret: str, header: str, body: bytes, tolerance: int = DEFAULT_TOLERANCE_SECONDS,
                     now: float | None = None) -> int:
    """Check a ``Webhook-Signature`` header against the raw body; the signed timestamp if valid.

    Raises SignatureError when the header is malformed, no ``v1`` matches, or the timestamp is
    more than ``tolerance`` seconds away from ``now``. Several ``v1=`` values are accepted (a
    secret being rotated)."""
    timestamp, digests = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            digests.append(value)
    if timestamp is None or not digests:
        raise SignatureError("The signature header has no timestamp or no v1 signature.")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("The signature timestamp is outside the tolerance (replayed or clock skew).")
    expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, digest) for digest in digests):
        raise SignatureError("The signature does not match the body.")
    return timestamp
