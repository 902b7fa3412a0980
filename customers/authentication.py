"""App tokens that expire: DRF's token, refused ``API_TOKEN_TTL`` after it was issued."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token):
    return token.created + settings.API_TOKEN_TTL


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; a token older than ``API_TOKEN_TTL`` is ``token_expired``
    (401). Logging in again issues a fresh one; logging out deletes it."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if timezone.now() >= token_expires_at(token):
            raise AuthenticationFailed("The token has expired; log in again.", code="token_expired")
        return user, token
