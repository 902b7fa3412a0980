"""Fernet encryption for secrets kept in the database (TOTP secrets).

The key is FIELD_ENCRYPTION_KEY, else derived from SECRET_KEY the same way as for the customers'
TOTP secrets (withdrawals/services/otp.py), so one key setting covers both.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def field_fernet() -> Fernet:
    key = settings.FIELD_ENCRYPTION_KEY
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(("totp:" + settings.SECRET_KEY).encode()).digest()).decode()
    return Fernet(key)


def field_encrypt(text: str) -> str:
    return field_fernet().encrypt(text.encode()).decode()


def field_decrypt(token: str) -> str:
    return field_fernet().decrypt(token.encode()).decode()
