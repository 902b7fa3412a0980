"""App API: withdrawal requests, their list and detail, cancel; balances; TOTP enrolment."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from ledger.selectors import customer_balances
from withdrawals.selectors.orders import withdrawal_get_for_customer, withdrawals_for_customer
from withdrawals.services.orders import withdrawal_cancel, withdrawal_request
from withdrawals.services.otp import totp_confirm, totp_enroll
from withdrawals_site.api_docs import error_responses
from withdrawals_site.api_fields import AmountInput, AmountString


class HistorySerializer(serializers.Serializer):
    # "from" is a Python keyword, so the field is declared under another name and renamed below.
    from_ = serializers.CharField(source="from_status")
    to = serializers.CharField(source="to_status")
    at = serializers.DateTimeField()
    reason = serializers.CharField()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["from"] = data.pop("from_") or None
        return data


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
    completed_at = serializers.DateTimeField()


class WithdrawalInput(serializers.Serializer):
    currency = serializers.CharField(max_length=12)
    network = serializers.CharField(max_length=16)
    address_id = serializers.IntegerField()
    amount = AmountInput()
    otp = serializers.CharField(max_length=12, help_text="The 6-digit TOTP code.")
    travel_rule = serializers.JSONField(required=False, help_text="Originator/beneficiary (IVMS101 subset), "
                                                                  "required at or above the travel-rule threshold.")


class WithdrawalRequestThrottle(ScopedRateThrottle):
    scope_attr = "throttle_scope"

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
        responses={200: WithdrawalOutput(many=True), **error_responses("unauthenticated", "permission_denied")},
    )
    def get(self, request):
        queryset = withdrawals_for_customer(customer=request.customer, status=request.query_params.get("status"),
                                            currency=request.query_params.get("currency"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WithdrawalOutput(page, many=True).data)

    @extend_schema(
        operation_id="withdrawals_create",
        request=WithdrawalInput,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
                                     description="Unique per request; a retry with the same key and body "
                                                 "returns the same order (200).")],
        responses={
            201: WithdrawalOutput, 200: OpenApiResponse(WithdrawalOutput, description="Replay of the same key."),
            **error_responses(
                "validation_error", "invalid_amount", "amount_not_positive", "amount_precision",
                "amount_below_minimum", "amount_above_maximum", "unknown_coin", "coin_disabled",
                "address_not_verified", "address_cooling_down", "network_mismatch", "not_found",
                "insufficient_balance", "daily_limit_exceeded", "kyc_required", "invalid_otp",
                "idempotency_key_required", "idempotency_conflict", "unauthenticated", "permission_denied",
                "throttled"),
        },
    )
    def post(self, request):
        data = WithdrawalInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = withdrawal_request(
            customer=request.customer, idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            **data.validated_data,
        )
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order.pk)
        return Response(WithdrawalOutput(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class WithdrawalDetail(APIView):
    @extend_schema(operation_id="withdrawals_retrieve", responses={200: WithdrawalOutput,
                                                                   **error_responses("not_found", "unauthenticated")})
    def get(self, request, order_id: int):
        order = withdrawal_get_for_customer(customer=request.customer, order_id=order_id)
        return Response(WithdrawalOutput(order).data)


class WithdrawalCancel(APIView):
    @extend_schema(operation_id="withdrawals_cancel", request=None,
                   responses={200: WithdrawalOutput, **error_responses("not_found", "not_cancellable",
                                                                       "unauthenticated")})
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
                                                            **error_responses("unauthenticated")})
    def get(self, request):
        return Response(BalanceOutput(customer_balances(customer=request.customer), many=True).data)


class OtpEnroll(APIView):
    @extend_schema(operation_id="otp_enroll", request=None,
                   responses={201: inline_serializer("OtpEnrollment", {"secret": serializers.CharField(),
                                                                       "otpauth_url": serializers.CharField()}),
                              **error_responses("validation_error", "unauthenticated")})
    def post(self, request):
        _, secret, uri = totp_enroll(customer=request.customer)
        return Response({"secret": secret, "otpauth_url": uri}, status=status.HTTP_201_CREATED)


class OtpConfirm(APIView):
    @extend_schema(operation_id="otp_confirm",
                   request=inline_serializer("OtpConfirmInput", {"code": serializers.CharField()}),
                   responses={200: inline_serializer("OtpConfirmed", {"confirmed": serializers.BooleanField()}),
                              **error_responses("invalid_otp", "unauthenticated")})
    def post(self, request):
        totp_confirm(customer=request.customer, code=str(request.data.get("code", "")))
        return Response({"confirmed": True})
