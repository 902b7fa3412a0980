"""App tokens that expire: DRF's token, refused ``API_TOKEN_TTL`` after it was issued."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token):
    return token.created + settings.API_TOKEN_TTL


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; a token older than ``API_TOKEN_TTL`` is ``token_expired``
    (401). Logging in again issues a fresh one; logging out deletes it.

    The token, its user and the user's customer (None for staff) come in one query: every App
    endpoint reads ``request.customer`` next (``customers.permissions.IsCustomer``)."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user", "user__customer").get(key=key)
        except model.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if timezone.now() >= token_expires_at(token):
            raise AuthenticationFailed("The token has expired; log in again.", code="token_expired")
        return token.user, token
