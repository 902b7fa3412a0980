"""App API: log in (token) and the customer's own profile."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_docs import AUTH_ERRORS, error_responses
from core.api_errors import error_response
from core.api_fields import StrictCharField
from core.errors import DomainError
from core.throttles import AtomicRateThrottle
from customers.lockout import login_locked_error
from customers.selectors import customer_for_user
from customers.services import customer_token_issue, customer_token_revoke


class LoginThrottle(AtomicRateThrottle):
    """Password guessing: the anon rate per client IP, whether or not a session is attached
    (counted atomically in Redis). Failed logins also lock the username and the IP (axes)."""

    scope = "anon"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class TokenView(APIView):
    authentication_classes: list = []  # credentials come in the body, not in a header
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenRequest"

        username = StrictCharField(max_length=150)
        password = StrictCharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Token"

        token = serializers.CharField(help_text='Send it as "Authorization: Token <token>".')

    @extend_schema(
        operation_id="auth_token",
        summary="Log in: exchange a customer's username and password for an API token",
        description="Issues a fresh token (any earlier one of the user stops working); it expires after "
                    "`API_TOKEN_TTL_HOURS` (24 h), then requests answer `token_expired`. "
                    "Errors: `validation_error` (400, a field missing; `field` names it), `unauthenticated` "
                    "(401, wrong username or password, or the user is inactive), `permission_denied` (403, "
                    "the user is not an App customer), `throttled` (429, too many requests from this address), "
                    "`login_locked` (429, too many failed logins for this username or from this address: "
                    "refused even with the right password until the time in `detail`; `Retry-After` says "
                    "how many seconds).",
        request=InputSerializer,
        responses={200: OutputSerializer,
                   **error_responses("validation_error", "unauthenticated", "permission_denied", "throttled",
                                     "login_locked")},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        # The Django request, so axes (its backend and middleware) sees the same object.
        django_request = request._request
        user = authenticate(django_request, username=username, password=data.validated_data["password"])
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                error, seconds = login_locked_error(django_request, username)
                return error_response(error, headers={"Retry-After": str(seconds)})
            raise DomainError("unauthenticated", "Wrong username or password.")
        if customer_for_user(user) is None:
            raise DomainError("permission_denied", "Only App customers get API tokens; staff use the admin.")
        token = customer_token_issue(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)


class LogoutView(APIView):
    @extend_schema(
        operation_id="auth_logout",
        summary="Log out: the token is deleted and answers `unauthenticated` from now on",
        description="Errors: `unauthenticated` (401), `token_expired` (401), `permission_denied` (403, not an "
                    "App customer).",
        request=None,
        responses={204: None, **error_responses(*AUTH_ERRORS)},
    )
    def post(self, request):
        if request.auth is not None and hasattr(request.auth, "key"):
            customer_token_revoke(token=request.auth)
        return Response(status=204)


class MeView(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CustomerProfile"

        username = serializers.CharField(source="user.username")
        reference = serializers.CharField(help_text="The tenant's customer number.")
        kyc_level = serializers.IntegerField()
        kyc_status = serializers.CharField()
        may_withdraw = serializers.BooleanField(help_text="KYC approved at level 1 or more.")
        venue = serializers.CharField(source="tenant.venue_code")

    @extend_schema(
        operation_id="me",
        summary="The logged-in customer's profile",
        description="Errors: `unauthenticated` (401), `permission_denied` (403, not an App customer).",
        responses={200: OutputSerializer, **error_responses(*AUTH_ERRORS)},
    )
    def get(self, request):
        return Response(self.OutputSerializer(request.customer).data)
