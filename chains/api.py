"""App API: the coins open for withdrawal."""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chains.selectors import coins_open_for_withdrawal
from chains.services import coins_refresh_stale_fee_estimates
from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import AmountString

FEE_ESTIMATE_MAX_AGE = timedelta(seconds=120)
FEE_ESTIMATE_TIMEOUT_SECONDS = 2.0


class CoinsView(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Coin"

        currency = serializers.CharField(source="currency.code")
        network = serializers.CharField(source="network.code")
        contract = serializers.CharField(source="contract_address", allow_null=True,
                                         help_text="Token contract; null for the network's native coin.")
        decimals = serializers.IntegerField(help_text="Decimals an amount may have.")
        min_amount = AmountString()
        max_amount = AmountString()
        daily_limit = AmountString(help_text="Per customer per UTC day at KYC level 1.")
        customer_fee = AmountString()
        network_fee_estimate = AmountString(allow_null=True,
                                           help_text="Estimated network fee, in fee_currency; null if unknown.")
        fee_currency = serializers.CharField(source="fee_currency.code")
        confirmations = serializers.IntegerField()
        enabled = serializers.BooleanField()

        def to_representation(self, instance):
            data = super().to_representation(instance)
            data["contract"] = data["contract"] or None
            return data

    @extend_schema(
        operation_id="coins_list",
        summary="Coins open for withdrawal",
        description="Each coin (a currency on a network) with its withdrawal settings and the current network "
                    "fee estimate. Amounts are decimal strings.",
        responses={200: OutputSerializer(many=True), **error_responses(*AUTH_ERRORS)},
    )
    def get(self, request):
        coins = list(coins_open_for_withdrawal())
        coins_refresh_stale_fee_estimates(coins=coins, max_age=FEE_ESTIMATE_MAX_AGE,
                                          timeout=FEE_ESTIMATE_TIMEOUT_SECONDS)
        return Response(self.OutputSerializer(coins, many=True).data)
