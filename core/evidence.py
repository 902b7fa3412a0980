"""Uploaded evidence files (address evidence, payment proofs, appeal evidence), for every app.

A file is told by its first bytes and the name's extension must agree (a ".pdf" that is really
HTML is refused); its size is at most settings.EVIDENCE_MAX_BYTES (5 MiB unless set), and a
multipart body declared larger than that is refused before it is read.
"""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings

from core.errors import DomainError

EVIDENCE_KINDS = (  # (magic bytes, content type, extensions)
    (b"%PDF-", "application/pdf", {".pdf"}),
    (b"\x89PNG\r\n\x1a\n", "image/png", {".png"}),
    (b"\xff\xd8\xff", "image/jpeg", {".jpg", ".jpeg"}),
)
EVIDENCE_EXTENSIONS = {ext for _, _, extensions in EVIDENCE_KINDS for ext in extensions}
# What a multipart body may carry besides the file itself (boundaries, the other fields).
MULTIPART_ALLOWANCE = 64 * 1024


def evidence_too_large(*, field: str = "file") -> DomainError:
    limit = settings.EVIDENCE_MAX_BYTES
    shown = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
    return DomainError("validation_error", f"Evidence must be 1 byte to {shown}.", field=field)


def evidence_upload_size_check(*, content_type: str, content_length: str | int | None,
                               field: str = "file") -> None:
    """Refuse a multipart body declared larger than the evidence limit allows, before it is read."""
    if not (content_type or "").startswith("multipart/"):
        return  # JSON and form bodies are capped by DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(content_length or 0)
    except (TypeError, ValueError):
        raise DomainError("validation_error", "The request has no valid Content-Length.", field=field) from None
    if declared > settings.EVIDENCE_MAX_BYTES + MULTIPART_ALLOWANCE:
        raise evidence_too_large(field=field)


def evidence_kind(head: bytes) -> tuple[str, set[str]] | None:
    """The content type and extensions of a file starting with ``head``, or None if not evidence."""
    for magic, content_type, extensions in EVIDENCE_KINDS:
        if head.startswith(magic):
            return content_type, extensions
    return None


def evidence_content_type(stored) -> str:
    """The content type of stored evidence, from its bytes (served with it, never guessed)."""
    with stored.storage.open(stored.name, "rb") as handle:  # its own handle: the response streams the field's
        kind = evidence_kind(handle.read(16))
    return kind[0] if kind else "application/octet-stream"


def evidence_check(file, *, field: str = "file") -> None:
    """Refuse anything but a PNG, JPEG or PDF within the size limit whose name matches its bytes."""
    if file is None:
        raise DomainError("validation_error", "The evidence file is required.", field=field)
    if PurePath(file.name or "").suffix.lower() not in EVIDENCE_EXTENSIONS:
        raise DomainError("validation_error", "Evidence must be a PNG or JPEG image or a PDF.", field=field)
    if not file.size or file.size > settings.EVIDENCE_MAX_BYTES:
        raise evidence_too_large(field=field)
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    kind = evidence_kind(head)
    if kind is None or PurePath(file.name).suffix.lower() not in kind[1]:
        raise DomainError("validation_error", "The file's content is not a PNG or JPEG image or a PDF "
                                              "matching its name.", field=field)
