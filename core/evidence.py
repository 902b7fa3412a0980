"""Uploaded evidence files (payment proofs, appeal evidence): told by their first bytes, the
name's extension must agree (a ".pdf" that is really HTML is refused), size at most
settings.EVIDENCE_MAX_BYTES. Same kinds as the address evidence of ``withdrawals``."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings

from core.errors import DomainError

EVIDENCE_KINDS = (  # (magic bytes, content type, extensions)
    (b"%PDF-", "application/pdf", {".pdf"}),
    (b"\x89PNG\r\n\x1a\n", "image/png", {".png"}),
    (b"\xff\xd8\xff", "image/jpeg", {".jpg", ".jpeg"}),
)


def evidence_kind(head: bytes) -> tuple[str, set[str]] | None:
    for magic, content_type, extensions in EVIDENCE_KINDS:
        if head.startswith(magic):
            return content_type, extensions
    return None


def evidence_content_type(stored) -> str:
    """The content type of a stored file, from its bytes (served with it, never guessed)."""
    with stored.storage.open(stored.name, "rb") as handle:
        kind = evidence_kind(handle.read(16))
    return kind[0] if kind else "application/octet-stream"


def evidence_check(file, *, field: str = "file") -> None:
    """Refuse anything but a PNG, JPEG or PDF within the size limit whose name matches its bytes."""
    if file is None:
        raise DomainError("validation_error", "The evidence file is required.", field=field)
    limit = settings.EVIDENCE_MAX_BYTES
    if not file.size or file.size > limit:
        raise DomainError("validation_error", f"Evidence must be 1 byte to {limit} bytes.", field=field)
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    kind = evidence_kind(head)
    if kind is None or PurePath(file.name or "").suffix.lower() not in kind[1]:
        raise DomainError("validation_error", "The file is not a PNG or JPEG image or a PDF matching its name.",
                          field=field)
