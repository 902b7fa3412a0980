"""App API: withdrawal requests, their list and detail, cancel; balances; TOTP enrolment."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from chains.api_fields import CoinCurrencyField
from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import AmountInput, AmountString, HistorySerializer, StrictCharField, StrictIntegerField
from core.idempotency import idempotency_header
from core.throttles import AtomicScopedRateThrottle
from ledger.selectors import customer_balances
from withdrawals.selectors.orders import withdrawal_get_for_customer, withdrawals_for_customer
from withdrawals.services.orders import withdrawal_cancel, withdrawal_request
from withdrawals.services.otp import totp_confirm, totp_enroll


class SplitLineSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    amount = serializers.CharField()


class WithdrawalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    currency = serializers.CharField(source="coin.currency.code")
    network = serializers.CharField(source="coin.network.code")
    address = serializers.CharField(source="destination")
    address_id = serializers.IntegerField()
    amount = AmountString()
    customer_fee = AmountString()
    network_fee_estimate = AmountString()
    fee_currency = serializers.CharField(source="coin.fee_currency.code")
    tx_hash = serializers.CharField()
    confirmations = serializers.IntegerField()
    required_confirmations = serializers.IntegerField()
    split = SplitLineSerializer(many=True)
    history = HistorySerializer(many=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True, help_text="When it completed; null until then.")


@extend_schema_field({"type": "object", "additionalProperties": True, "nullable": True})
class TravelRuleInput(serializers.JSONField):
    """A JSON object (or null); its sections are checked where the travel rule is applied."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError("Travel-rule data must be an object.")
        if _has_nul(data):  # PostgreSQL's jsonb refuses \u0000: it was a 500
            raise serializers.ValidationError("Null characters are not allowed.")
        return data


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


# As strict as withdrawal_request (the one pattern): 1 to 100 printable ASCII characters, no blank
# at either end (what an HTTP header carries as is).
SIX_DIGITS = RegexValidator(r"^[0-9]{6}$", "A TOTP code is 6 digits.")


class WithdrawalInput(serializers.Serializer):
    currency = CoinCurrencyField()
    network = StrictCharField(max_length=16)
    address_id = StrictIntegerField()
    amount = AmountInput()
    otp = StrictCharField(max_length=6, validators=[SIX_DIGITS], help_text="The 6-digit TOTP code.")
    travel_rule = TravelRuleInput(required=False, allow_null=True,
                                  help_text="Originator/beneficiary (IVMS101 subset), required at or above the "
                                            "travel-rule threshold; null or absent: none given.")


class WithdrawalFilters(serializers.Serializer):
    """The list's query parameters: text without NUL characters (they were a 500 from PostgreSQL)."""

    status = StrictCharField(required=False, allow_blank=True)
    currency = StrictCharField(required=False, allow_blank=True)


class WithdrawalRequestThrottle(AtomicScopedRateThrottle):
    """Per customer, counted atomically in Redis (a burst never gets past the rate)."""

    def allow_request(self, request, view):
        if request.method != "POST":
            return True  # only the request endpoint is throttled
        return super().allow_request(request, view)


class WithdrawalListCreate(GenericAPIView):
    throttle_classes = [WithdrawalRequestThrottle]
    throttle_scope = "withdrawal_request"
    serializer_class = WithdrawalOutput

    @extend_schema(
        operation_id="withdrawals_list",
        parameters=[OpenApiParameter("status", str), OpenApiParameter("currency", str)],
        # not_found: a page number that is not a page (DRF's pagination: "Invalid page.").
        responses={200: WithdrawalOutput(many=True), **error_responses("validation_error", "not_found", *AUTH_ERRORS)},
    )
    def get(self, request):
        filters = WithdrawalFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = withdrawals_for_customer(customer=request.customer, status=filters.validated_data.get("status"),
                                            currency=filters.validated_data.get("currency"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WithdrawalOutput(page, many=True).data)

    @extend_schema(
        operation_id="withdrawals_create",
        request=WithdrawalInput,
        parameters=[idempotency_header("Unique per request, 1 to 100 printable characters; a retry with the same "
                                       "key and body returns the same order (200).")],
        responses={
            201: WithdrawalOutput, 200: OpenApiResponse(WithdrawalOutput, description="Replay of the same key."),
            **error_responses(
                "validation_error", "invalid_amount", "amount_not_positive", "amount_precision",
                "amount_below_minimum", "amount_above_maximum", "unknown_coin", "coin_disabled",
                "address_not_verified", "address_cooling_down", "network_mismatch", "not_found",
                "insufficient_balance", "daily_limit_exceeded", "kyc_required", "invalid_otp",
                "otp_locked", "payout_frozen", "idempotency_key_required", "idempotency_conflict", *AUTH_ERRORS,
                "throttled"),
        },
    )
    def post(self, request):
        data = WithdrawalInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = withdrawal_request(
            customer=request.customer, idempotency_key=request.headers.get("Idempotency-Key", ""),
            **data.validated_data,
        )
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order.pk)  # as stored
        return Response(WithdrawalOutput(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class WithdrawalDetail(APIView):
    @extend_schema(operation_id="withdrawals_retrieve", responses={200: WithdrawalOutput,
                                                                   **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, order_id: int):
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order_id)
        return Response(WithdrawalOutput(order).data)


class WithdrawalCancel(APIView):
    @extend_schema(operation_id="withdrawals_cancel", request=None,
                   responses={200: WithdrawalOutput, **error_responses("not_found", "not_cancellable", *AUTH_ERRORS)})
    def post(self, request, order_id: int):
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order_id)
        withdrawal_cancel(order=order, actor=request.user)
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order_id)
        return Response(WithdrawalOutput(order).data)


class InstrumentBalance(serializers.Serializer):
    instrument = serializers.CharField()
    available = AmountString()
    held = AmountString()


class BalanceOutput(serializers.Serializer):
    currency = serializers.CharField()
    available = AmountString()
    held = AmountString()
    instruments = InstrumentBalance(many=True)


class Balances(APIView):
    @extend_schema(operation_id="balances_list", responses={200: BalanceOutput(many=True),
                                                            **error_responses(*AUTH_ERRORS)})
    def get(self, request):
        return Response(BalanceOutput(customer_balances(customer=request.customer), many=True).data)


class OtpThrottle(AtomicScopedRateThrottle):
    """Code guessing on enrolment and confirmation: ``otp_confirm`` rate per customer."""


class OtpEnrollInput(serializers.Serializer):
    code = StrictCharField(max_length=6, validators=[SIX_DIGITS], required=False,
                           help_text="Replacing a confirmed device: a current code of that device.")


class OtpEnroll(APIView):
    throttle_classes = [OtpThrottle]
    throttle_scope = "otp_confirm"

    @extend_schema(operation_id="otp_enroll", request=OtpEnrollInput,
                   description="First enrolment needs no body. With a confirmed device this starts a replacement "
                               "and needs `code` from the current device (a wrong one counts towards `otp_locked`); "
                               "the current device keeps working until the new one is confirmed, which pauses "
                               "withdrawals (`payout_frozen`) for `PAYOUT_FREEZE_HOURS`.",
                   responses={201: inline_serializer("OtpEnrollment", {"secret": serializers.CharField(),
                                                                       "otpauth_url": serializers.CharField()}),
                              **error_responses("validation_error", "invalid_otp", "otp_locked", "throttled",
                                                *AUTH_ERRORS)})
    def post(self, request):
        data = OtpEnrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        _, secret, uri = totp_enroll(customer=request.customer, code=data.validated_data.get("code"))
        return Response({"secret": secret, "otpauth_url": uri}, status=status.HTTP_201_CREATED)


class OtpConfirmInput(serializers.Serializer):
    code = StrictCharField(max_length=6, validators=[SIX_DIGITS],
                           help_text="A code from the authenticator app (6 digits).")


class OtpConfirm(APIView):
    throttle_classes = [OtpThrottle]
    throttle_scope = "otp_confirm"

    @extend_schema(operation_id="otp_confirm", request=OtpConfirmInput,
                   description="Confirms the device being enrolled with its first code. Refused "
                               "(`validation_error`) when the device is already confirmed and no replacement "
                               "waits. Confirming a replacement pauses withdrawals (`payout_frozen`).",
                   responses={200: inline_serializer("OtpConfirmed", {"confirmed": serializers.BooleanField()}),
                              **error_responses("validation_error", "invalid_otp", "throttled", *AUTH_ERRORS)})
    def post(self, request):
        data = OtpConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        totp_confirm(customer=request.customer, code=data.validated_data["code"])
        return Response({"confirmed": True})
