"""App API: log in (token) and the customer's own profile."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import StrictCharField
from core.errors import DomainError
from customers.selectors import customer_for_user


class LoginThrottle(AnonRateThrottle):
    """Password guessing: the anon rate per client IP, whether or not a session is attached."""

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
        description="Errors: `validation_error` (400, a field missing; `field` names it), `unauthenticated` "
                    "(401, wrong username or password, or the user is inactive), `permission_denied` (403, "
                    "the user is not an App customer), `throttled` (429).",
        request=InputSerializer,
        responses={200: OutputSerializer,
                   **error_responses("validation_error", "unauthenticated", "permission_denied", "throttled")},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, username=data.validated_data["username"],
                            password=data.validated_data["password"])
        if user is None:
            raise DomainError("unauthenticated", "Wrong username or password.")
        if customer_for_user(user) is None:
            raise DomainError("permission_denied", "Only App customers get API tokens; staff use the admin.")
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)


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
