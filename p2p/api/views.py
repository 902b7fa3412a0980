"""App API for P2P cash-out (SPEC.md, "P2P cash-out with escrow"): offers, trades and their moves.
One view per operation; every move names the trade ``version`` it saw."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from chains.api_fields import CurrencyCodeField
from core.api_docs import AUTH_ERRORS, error_responses
from core.api_fields import AmountInput, AmountString, HistorySerializer, StrictCharField, StrictIntegerField
from core.evidence import evidence_upload_size_check
from p2p import selectors, services
from p2p.models import FeePayer, P2PTrade

AMOUNT_ERRORS = ("invalid_amount", "amount_not_positive", "amount_precision")


# --- output ---------------------------------------------------------------------------------------

class PaymentMethodOutput(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.SerializerMethodField()

    def get_label(self, account) -> str:
        from p2p.payment_methods import payment_method_label

        return payment_method_label(account)


class OfferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    mine = serializers.SerializerMethodField()
    currency = serializers.CharField(source="currency_id")
    fiat = serializers.CharField()
    price = AmountString()
    total_amount = AmountString()
    remaining = AmountString()
    min_trade = AmountString()
    max_trade = AmountString()
    payment_window_minutes = serializers.IntegerField()
    fee_payer = serializers.CharField()
    payment_methods = PaymentMethodOutput(many=True)
    terms = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_mine(self, offer) -> bool:
        return offer.seller_id == self.context["customer"].pk


class TradeHistoryOutput(HistorySerializer):
    version = serializers.IntegerField()


class EvidenceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    side = serializers.CharField()
    kind = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class PayToOutput(serializers.Serializer):
    """The seller's account, in full for the trade's buyer while there is something to pay."""

    holder_name = serializers.CharField()
    rail = serializers.CharField()
    currency = serializers.CharField()
    bank_code = serializers.CharField()
    account_number = serializers.CharField()
    iban = serializers.CharField()
    bic = serializers.CharField()
    fps_id = serializers.CharField()


class TradeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField(help_text="Send it back with every move; a stale one is trade_state_changed.")
    side = serializers.SerializerMethodField(help_text="buyer or seller: your side of the trade.")
    offer_id = serializers.IntegerField()
    currency = serializers.CharField(source="currency_id")
    fiat = serializers.CharField()
    amount = AmountString()
    price = AmountString()
    fiat_amount = AmountString(help_text="What the buyer pays off-platform.")
    fee = AmountString()
    fee_payer = serializers.CharField()
    escrow_amount = AmountString()
    buyer_receives = AmountString()
    payment_method = serializers.CharField(source="payment_method_label")
    pay_to = serializers.SerializerMethodField()
    payer_name = serializers.CharField()
    payer_account = serializers.CharField()
    paid_undone = serializers.BooleanField()
    seller_cancel_requested = serializers.BooleanField()
    cancelled_by = serializers.CharField()
    appealed_by = serializers.CharField()
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    appeal_opens_at = serializers.SerializerMethodField()
    release_deadline = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    history = TradeHistoryOutput(many=True)
    evidence = EvidenceOutput(many=True)

    def get_side(self, trade) -> str:
        return trade.side_of(self.context["customer"])

    def get_appeal_opens_at(self, trade) -> str | None:
        moment = selectors.appeal_opens_at(trade)
        return serializers.DateTimeField().to_representation(moment) if moment else None

    def get_pay_to(self, trade) -> dict | None:
        if trade.side_of(self.context["customer"]) != "buyer" or trade.status not in (
                P2PTrade.Status.OPEN, P2PTrade.Status.BUYER_PAID):
            return None
        return PayToOutput(trade.payment_method).data


# --- input ----------------------------------------------------------------------------------------

class OfferInput(serializers.Serializer):
    currency = CurrencyCodeField()
    fiat = StrictCharField(max_length=3)
    price = AmountInput(help_text="Fiat per unit, a decimal string.")
    total_amount = AmountInput()
    min_trade = AmountInput()
    max_trade = AmountInput()
    payment_method_ids = serializers.ListField(child=StrictIntegerField(), allow_empty=False,
                                               help_text="Your own active bank accounts in the fiat.")
    payment_window_minutes = StrictIntegerField(required=False, min_value=5, max_value=180)
    fee_payer = serializers.ChoiceField(choices=FeePayer.values, required=False)
    terms = StrictCharField(required=False, allow_blank=True, max_length=500)


class TakeInput(serializers.Serializer):
    offer_id = StrictIntegerField()
    amount = AmountInput()
    payment_method_id = StrictIntegerField(required=False, help_text="Which of the offer's accounts you will pay.")


class VersionInput(serializers.Serializer):
    version = StrictIntegerField(help_text="The trade version you saw.")


class PaidInput(VersionInput):
    payer_name = StrictCharField(max_length=200, help_text="The holder of the account you paid from (your KYC name).")
    payer_account = StrictCharField(max_length=100, help_text="The account you paid from.")
    proof = serializers.FileField(help_text="The transfer receipt: PNG, JPEG or PDF.")


class CancelInput(VersionInput):
    reason = StrictCharField(required=False, allow_blank=True, max_length=500)


class ReleaseInput(VersionInput):
    otp = StrictCharField(max_length=12, help_text="Your 6-digit TOTP code.")


class AppealInput(VersionInput):
    reason = StrictCharField(max_length=2000)


class EvidenceInput(serializers.Serializer):
    file = serializers.FileField(help_text="PNG, JPEG or PDF.")
    note = StrictCharField(required=False, allow_blank=True, max_length=2000)


class ListFilters(serializers.Serializer):
    status = StrictCharField(required=False, allow_blank=True)
    side = serializers.ChoiceField(choices=["buyer", "seller"], required=False)
    currency = StrictCharField(required=False, allow_blank=True)
    fiat = StrictCharField(required=False, allow_blank=True)
    mine = serializers.BooleanField(required=False)


def _filters(request) -> dict:
    """The list's query parameters, each given once (``?page=1&page=2`` is refused, not guessed)."""
    repeated = next((name for name in request.query_params if len(request.query_params.getlist(name)) > 1), None)
    if repeated:
        from core.errors import DomainError

        raise DomainError("validation_error", f"{repeated} is given more than once.", field=repeated)
    # A plain dict, not the QueryDict: DRF reads an empty HTML-form value as "not given", so
    # `?side=` would pass as no filter although the schema allows only buyer and seller.
    filters = ListFilters(data=request.query_params.dict())
    filters.is_valid(raise_exception=True)
    return filters.validated_data


def _trade_response(request, trade_id: int, *, code=status.HTTP_200_OK) -> Response:
    trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
    return Response(TradeOutput(trade, context={"customer": request.customer}).data, status=code)


def _offer_response(request, offer_id: int, *, code=status.HTTP_200_OK) -> Response:
    offer = selectors.offer_get_for_customer(customer=request.customer, offer_id=offer_id)
    return Response(OfferOutput(offer, context={"customer": request.customer}).data, status=code)


# --- offers ---------------------------------------------------------------------------------------

class OfferListCreate(GenericAPIView):
    serializer_class = OfferOutput

    @extend_schema(operation_id="p2p_offers_list",
                   description="The market (active offers of others and yours with something left), or with "
                               "`mine=true` your own offers in every state.",
                   parameters=[OpenApiParameter("currency", str), OpenApiParameter("fiat", str),
                               OpenApiParameter("mine", bool)],
                   responses={200: OfferOutput(many=True), **error_responses("validation_error", "not_found",
                                                                             *AUTH_ERRORS)})
    def get(self, request):
        data = _filters(request)
        if data.get("mine"):
            queryset = selectors.offers_of(seller=request.customer)
        else:
            queryset = selectors.offers_market(customer=request.customer, currency=data.get("currency"),
                                               fiat=data.get("fiat"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(OfferOutput(page, many=True, context={"customer": request.customer}).data)

    @extend_schema(operation_id="p2p_offers_create", request=OfferInput,
                   responses={201: OfferOutput, **error_responses(
                       "validation_error", *AMOUNT_ERRORS, "unknown_currency", "kyc_required",
                       "bank_account_not_active", *AUTH_ERRORS)})
    def post(self, request):
        data = OfferInput(data=request.data)
        data.is_valid(raise_exception=True)
        offer = services.offer_create(seller=request.customer, **data.validated_data)
        return _offer_response(request, offer.pk, code=status.HTTP_201_CREATED)


class OfferDetail(APIView):
    @extend_schema(operation_id="p2p_offers_retrieve",
                   responses={200: OfferOutput, **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, offer_id: int):
        return _offer_response(request, offer_id)


def _offer_move(name: str, service):
    class OfferMove(APIView):
        @extend_schema(operation_id=f"p2p_offers_{name}", request=None,
                       responses={200: OfferOutput, **error_responses("not_found", "invalid_transition",
                                                                      *AUTH_ERRORS)})
        def post(self, request, offer_id: int):
            offer = selectors.offer_get_for_customer(customer=request.customer, offer_id=offer_id)
            service(offer=offer, seller=request.customer)
            return _offer_response(request, offer_id)

    OfferMove.__name__ = f"Offer{name.title()}"
    return OfferMove


OfferPause = _offer_move("pause", services.offer_pause)
OfferResume = _offer_move("resume", services.offer_resume)
OfferWithdraw = _offer_move("withdraw", services.offer_withdraw)


# --- trades ---------------------------------------------------------------------------------------

class TradeListCreate(GenericAPIView):
    serializer_class = TradeOutput

    @extend_schema(operation_id="p2p_trades_list", description="Your trades, as buyer or seller.",
                   parameters=[OpenApiParameter("status", str),
                               OpenApiParameter("side", str, enum=["buyer", "seller"])],
                   responses={200: TradeOutput(many=True), **error_responses("validation_error", "not_found",
                                                                             *AUTH_ERRORS)})
    def get(self, request):
        data = _filters(request)
        queryset = selectors.trades_for_customer(customer=request.customer, status=data.get("status"),
                                                 side=data.get("side"))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(TradeOutput(page, many=True, context={"customer": request.customer}).data)

    @extend_schema(operation_id="p2p_trades_create", request=TakeInput,
                   description="Take part of an offer: the seller's coins move to escrow in the same transaction.",
                   responses={201: TradeOutput, **error_responses(
                       "validation_error", *AMOUNT_ERRORS, "amount_below_minimum", "amount_above_maximum",
                       "offer_unavailable", "not_found", "kyc_required", "daily_limit_exceeded",
                       "cancel_limit_reached", "insufficient_balance", *AUTH_ERRORS)})
    def post(self, request):
        data = TakeInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = services.trade_open(buyer=request.customer, offer=data.validated_data["offer_id"],
                                    amount=data.validated_data["amount"],
                                    payment_method_id=data.validated_data.get("payment_method_id"))
        return _trade_response(request, trade.pk, code=status.HTTP_201_CREATED)


class TradeDetail(APIView):
    @extend_schema(operation_id="p2p_trades_retrieve",
                   responses={200: TradeOutput, **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, trade_id: int):
        return _trade_response(request, trade_id)


MOVE_ERRORS = ("validation_error", "not_found", "trade_state_changed", "invalid_transition", *AUTH_ERRORS)


class TradePaid(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="p2p_trades_paid", request={"multipart/form-data": PaidInput},
                   description="The buyer marks the trade paid (multipart, with the proof).",
                   responses={200: TradeOutput, **error_responses("payer_name_mismatch", "kyc_required", *MOVE_ERRORS)})
    def post(self, request, trade_id: int):
        # Before request.data: an oversized upload is refused unread.
        evidence_upload_size_check(content_type=request.content_type,
                                   content_length=request.META.get("CONTENT_LENGTH"), field="proof")
        data = PaidInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_mark_paid(trade=trade, customer=request.customer, version=data.validated_data["version"],
                                 payer_name=data.validated_data["payer_name"],
                                 payer_account=data.validated_data["payer_account"],
                                 proof=data.validated_data["proof"])
        return _trade_response(request, trade_id)


class TradeUnpaid(APIView):
    parser_classes = [JSONParser]

    @extend_schema(operation_id="p2p_trades_unpaid", request=VersionInput,
                   description="The buyer takes the paid mark back (once, before the seller acts).",
                   responses={200: TradeOutput, **error_responses(*MOVE_ERRORS)})
    def post(self, request, trade_id: int):
        data = VersionInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_unmark_paid(trade=trade, customer=request.customer, version=data.validated_data["version"])
        return _trade_response(request, trade_id)


class TradeCancel(APIView):
    parser_classes = [JSONParser]

    @extend_schema(operation_id="p2p_trades_cancel", request=CancelInput,
                   description="Before paid: the buyer cancels; the seller's cancel is a request the buyer's "
                               "completes.",
                   responses={200: TradeOutput, **error_responses("not_cancellable", *MOVE_ERRORS)})
    def post(self, request, trade_id: int):
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_cancel(trade=trade, customer=request.customer, version=data.validated_data["version"],
                              reason=data.validated_data.get("reason", ""))
        return _trade_response(request, trade_id)


class TradeRelease(APIView):
    parser_classes = [JSONParser]

    @extend_schema(operation_id="p2p_trades_release", request=ReleaseInput,
                   description="The seller confirms receipt (checked in their own bank, never on a screenshot) "
                               "and releases the escrow to the buyer.",
                   responses={200: TradeOutput, **error_responses("not_paid_yet", "invalid_otp", "otp_locked",
                                                                  *MOVE_ERRORS)})
    def post(self, request, trade_id: int):
        data = ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_release(trade=trade, customer=request.customer, version=data.validated_data["version"],
                               otp=data.validated_data["otp"])
        return _trade_response(request, trade_id)


class TradeAppeal(APIView):
    parser_classes = [JSONParser]

    @extend_schema(operation_id="p2p_trades_appeal", request=AppealInput,
                   description="Either side, from `appeal_opens_at`: staff decide.",
                   responses={200: TradeOutput, **error_responses("appeal_too_early", *MOVE_ERRORS)})
    def post(self, request, trade_id: int):
        data = AppealInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_appeal(trade=trade, customer=request.customer, version=data.validated_data["version"],
                              reason=data.validated_data["reason"])
        return _trade_response(request, trade_id)


class TradeEvidence(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(operation_id="p2p_trades_evidence", request={"multipart/form-data": EvidenceInput},
                   description="Either side adds evidence (not a move: the version stays).",
                   responses={201: TradeOutput, **error_responses("validation_error", "not_found",
                                                                  "invalid_transition", *AUTH_ERRORS)})
    def post(self, request, trade_id: int):
        evidence_upload_size_check(content_type=request.content_type,
                                   content_length=request.META.get("CONTENT_LENGTH"))
        data = EvidenceInput(data=request.data)
        data.is_valid(raise_exception=True)
        trade = selectors.trade_get_for_customer(customer=request.customer, trade_id=trade_id)
        services.trade_evidence_add(trade=trade, customer=request.customer, file=data.validated_data["file"],
                                    note=data.validated_data.get("note", ""))
        return _trade_response(request, trade_id, code=status.HTTP_201_CREATED)
