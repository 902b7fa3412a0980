"""App API of the cash-out: /quotes/, /sells/, /bank-accounts/, /fiat-withdrawals/ (SPEC.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import AmountInput, AmountString, StrictCharField, StrictIntegerField
from core.errors import DomainError
from core.idempotency import idempotency_header
from fiat.models import BankAccount, FiatWithdrawal
from fiat.selectors import bank_accounts_for
from fiat.services.bank_accounts import bank_account_archive, bank_account_register
from fiat.services.sells import quote_create, sell_execute
from fiat.services.withdrawals import fiat_withdrawal_cancel, fiat_withdrawal_request

IDEMPOTENCY = idempotency_header("Unique per request, 1 to 100 printable characters; a retry with the same key and "
                                 "body answers the same.")


class QuoteInput(serializers.Serializer):
    sell_currency = StrictCharField(max_length=12)
    sell_amount = AmountInput()
    fiat = StrictCharField(max_length=3)


class QuoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sell_currency = serializers.CharField()
    sell_amount = AmountString()
    fiat = serializers.CharField()
    price = AmountString()
    fiat_amount = AmountString()
    expires_at = serializers.DateTimeField()


class Quotes(APIView):
    @extend_schema(operation_id="quotes_create", request=QuoteInput, responses={
        201: QuoteOutput, **error_responses("validation_error", "invalid_amount", "amount_not_positive",
                                            "amount_precision", "unknown_currency", "price_unavailable",
                                            "kyc_required", *AUTH_ERRORS)})
    def post(self, request):
        data = QuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = quote_create(customer=request.customer, **data.validated_data)
        return Response(QuoteOutput(quote).data, status=status.HTTP_201_CREATED)


class SellInput(serializers.Serializer):
    quote_id = StrictIntegerField()
    otp = StrictCharField(max_length=10)


class SellOutput(serializers.Serializer):
    id = serializers.IntegerField()
    quote_id = serializers.IntegerField()
    currency = serializers.CharField()
    amount = AmountString()
    fiat = serializers.CharField()
    fiat_amount = AmountString()
    price = AmountString()
    split = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()


class Sells(APIView):
    @extend_schema(operation_id="sells_create", request=SellInput, parameters=[IDEMPOTENCY], responses={
        201: SellOutput, 200: SellOutput,
        **error_responses("validation_error", "quote_expired", "quote_used", "not_found", "insufficient_balance",
                          "daily_limit_exceeded", "kyc_required", "invalid_otp", "otp_locked",
                          "idempotency_key_required", "idempotency_conflict", *AUTH_ERRORS)})
    def post(self, request):
        data = SellInput(data=request.data)
        data.is_valid(raise_exception=True)
        sell, created = sell_execute(customer=request.customer,
                                     idempotency_key=request.headers.get("Idempotency-Key", ""),
                                     **data.validated_data)
        return Response(SellOutput(sell).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BankAccountInput(serializers.Serializer):
    holder_name = StrictCharField(max_length=140)
    currency = StrictCharField(max_length=3)
    rail = StrictCharField(max_length=5)
    iban = StrictCharField(max_length=40, required=False, default="", allow_blank=True)
    account_number = StrictCharField(max_length=40, required=False, default="", allow_blank=True)
    bank_code = StrictCharField(max_length=5, required=False, default="", allow_blank=True)
    bic = StrictCharField(max_length=11, required=False, default="", allow_blank=True)
    fps_id = StrictCharField(max_length=12, required=False, default="", allow_blank=True)
    label = StrictCharField(max_length=100, required=False, default="", allow_blank=True)


class BankAccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    holder_name = serializers.CharField()
    currency = serializers.CharField()
    rail = serializers.CharField()
    number = serializers.CharField(source="masked_number", help_text="Masked: only the last four are shown.")
    bank_code = serializers.CharField()
    bic = serializers.CharField()
    bank_country = serializers.CharField()
    label = serializers.CharField()
    status = serializers.CharField()
    usable_from = serializers.DateTimeField(allow_null=True)


def _bank_account(request, pk: int) -> BankAccount:
    account = bank_accounts_for(customer=request.customer).filter(pk=pk).first()
    if account is None:
        raise DomainError("not_found", "No such bank account.")
    return account


class BankAccounts(APIView):
    @extend_schema(operation_id="bank_accounts_list", responses={200: BankAccountOutput(many=True),
                                                                 **error_responses(*AUTH_ERRORS)})
    def get(self, request):
        return Response(BankAccountOutput(bank_accounts_for(customer=request.customer), many=True).data)

    @extend_schema(operation_id="bank_accounts_create", request=BankAccountInput, responses={
        201: BankAccountOutput, **error_responses("validation_error", "invalid_iban", "invalid_bic",
                                                  "invalid_bank_code", "currency_not_on_rail", "name_mismatch",
                                                  "duplicate_bank_account", "kyc_required", *AUTH_ERRORS)})
    def post(self, request):
        data = BankAccountInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = bank_account_register(customer=request.customer, **data.validated_data)
        return Response(BankAccountOutput(account).data, status=status.HTTP_201_CREATED)


class BankAccountDetail(APIView):
    @extend_schema(operation_id="bank_accounts_retrieve", responses={200: BankAccountOutput,
                                                                     **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, pk: int):
        return Response(BankAccountOutput(_bank_account(request, pk)).data)

    @extend_schema(operation_id="bank_accounts_destroy", responses={204: None,
                                                                    **error_responses("not_found", *AUTH_ERRORS)})
    def delete(self, request, pk: int):
        bank_account_archive(bank_account=_bank_account(request, pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FiatWithdrawalInput(serializers.Serializer):
    bank_account_id = StrictIntegerField()
    amount = AmountInput()
    otp = StrictCharField(max_length=10)
    charge_option = StrictCharField(max_length=3, required=False, default="SHA")


class FiatWithdrawalOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    currency = serializers.CharField()
    amount = AmountString()
    fee = AmountString()
    charge_option = serializers.CharField()
    bank_account_id = serializers.IntegerField()
    end_to_end_id = serializers.CharField()
    return_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


def _order(request, pk: int) -> FiatWithdrawal:
    order = FiatWithdrawal.objects.filter(customer=request.customer, pk=pk).first()
    if order is None:
        raise DomainError("not_found", "No such fiat withdrawal.")
    return order


class FiatWithdrawals(APIView):
    @extend_schema(operation_id="fiat_withdrawals_list", responses={200: FiatWithdrawalOutput(many=True),
                                                                    **error_responses(*AUTH_ERRORS)})
    def get(self, request):
        orders = FiatWithdrawal.objects.filter(customer=request.customer).order_by("-id")[:200]
        return Response(FiatWithdrawalOutput(orders, many=True).data)

    @extend_schema(operation_id="fiat_withdrawals_create", request=FiatWithdrawalInput, parameters=[IDEMPOTENCY],
                   responses={201: FiatWithdrawalOutput, 200: FiatWithdrawalOutput, **error_responses(
                       "validation_error", "invalid_amount", "amount_not_positive", "amount_precision",
                       "amount_below_minimum", "amount_above_maximum", "bank_account_not_active", "not_found",
                       "insufficient_balance", "daily_limit_exceeded", "kyc_required", "invalid_otp", "otp_locked",
                       "payout_frozen", "idempotency_key_required", "idempotency_conflict", *AUTH_ERRORS)})
    def post(self, request):
        data = FiatWithdrawalInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = fiat_withdrawal_request(customer=request.customer,
                                                 idempotency_key=request.headers.get("Idempotency-Key", ""),
                                                 **data.validated_data)
        return Response(FiatWithdrawalOutput(order).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class FiatWithdrawalDetail(APIView):
    @extend_schema(operation_id="fiat_withdrawals_retrieve", responses={
        200: FiatWithdrawalOutput, **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, pk: int):
        return Response(FiatWithdrawalOutput(_order(request, pk)).data)


class FiatWithdrawalCancel(APIView):
    @extend_schema(operation_id="fiat_withdrawals_cancel", request=None, responses={
        200: FiatWithdrawalOutput, **error_responses("not_found", "not_cancellable", *AUTH_ERRORS)})
    def post(self, request, pk: int):
        order = fiat_withdrawal_cancel(order=_order(request, pk), actor=request.user)
        return Response(FiatWithdrawalOutput(order).data)
