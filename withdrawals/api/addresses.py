"""App API: the customer's address book (SPEC.md, "App API"). One view per resource, thin:
parse, call a selector or service, serialize. Errors are DomainErrors, mapped in one place.

A customer only ever reaches their own addresses: another customer's id is ``404 not_found``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_docs import AUTH_ERRORS, error_responses
from core.evidence import evidence_upload_size_check
from withdrawals.api.address_serializers import (
    AddressCreateInputSerializer,
    AddressOutputSerializer,
    AddressVerifyInputSerializer,
    ChallengeOutputSerializer,
)
from withdrawals.selectors.addresses import address_get_for_customer, addresses_for_customer
from withdrawals.services import addresses as services

TAG = ["addresses"]

class AddressListCreateApi(APIView):
    @extend_schema(tags=TAG, operation_id="addresses_list", summary="The customer's address book",
                   description="Newest first. Revoked (deleted) addresses are left out.",
                   responses={200: AddressOutputSerializer(many=True), **error_responses(*AUTH_ERRORS)})
    def get(self, request):
        addresses = addresses_for_customer(customer=request.customer)
        return Response(AddressOutputSerializer(addresses, many=True).data)

    @extend_schema(
        tags=TAG, operation_id="addresses_create", summary="Register an external address",
        description="The address is checked against the network's rules and stored in its canonical form "
                    "(EIP-55 on ETH). It starts `pending_verification`: prove ownership with "
                    "`POST /addresses/{id}/verify/`. Registering an address pauses all the customer's "
                    "withdrawals for `PAYOUT_FREEZE_HOURS` (24 h; `payout_frozen`).",
        request=AddressCreateInputSerializer,
        responses={201: AddressOutputSerializer,
                   **error_responses("invalid_address", "network_mismatch", "validation_error", "duplicate_address",
                                     *AUTH_ERRORS)},
    )
    def post(self, request):
        data = AddressCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(customer=request.customer, network_code=data.validated_data["network"],
                                          address=data.validated_data["address"],
                                          label=data.validated_data["label"], memo=data.validated_data["memo"])
        return Response(AddressOutputSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailApi(APIView):
    @extend_schema(tags=TAG, operation_id="addresses_retrieve", summary="One address (any status)",
                   responses={200: AddressOutputSerializer, **error_responses("not_found", *AUTH_ERRORS)})
    def get(self, request, address_id: int):
        address = address_get_for_customer(customer=request.customer, address_id=address_id)
        return Response(AddressOutputSerializer(address).data)

    @extend_schema(tags=TAG, operation_id="addresses_revoke", summary="Remove (revoke) an address",
                   description="The address becomes `revoked` and is no longer usable; its record and history "
                               "are kept. Revoking a revoked address is a no-op. Answers the revoked address.",
                   responses={200: AddressOutputSerializer,
                              **error_responses("invalid_transition", "not_found", *AUTH_ERRORS)})
    def delete(self, request, address_id: int):
        address = address_get_for_customer(customer=request.customer, address_id=address_id)
        address = services.address_revoke(address=address, actor=request.user, reason="Removed by the customer.")
        return Response(AddressOutputSerializer(address).data)


class AddressChallengeApi(APIView):
    @extend_schema(
        tags=TAG, operation_id="addresses_challenge", summary="Get a message to sign with the address's key",
        description="A one-time challenge, valid until `expires_at`. Sign `message` exactly as given with the "
                    "address's key (ETH: EIP-191 `personal_sign`; TRON: `signMessageV2`; BTC: Bitcoin signed "
                    "message) and send it to `POST /addresses/{id}/verify/` with `method=signature`.",
        request=None,
        responses={201: ChallengeOutputSerializer, **error_responses("invalid_transition", "not_found", *AUTH_ERRORS)},
    )
    def post(self, request, address_id: int):
        address = address_get_for_customer(customer=request.customer, address_id=address_id)
        challenge = services.address_challenge_issue(address=address)
        return Response(ChallengeOutputSerializer(challenge).data, status=status.HTTP_201_CREATED)


class AddressVerifyApi(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        tags=TAG, operation_id="addresses_verify", summary="Prove ownership of the address",
        description=(
            "`method` chooses the proof:\n\n"
            "- `signature` (JSON `{method, nonce, signature}`): a signature of a challenge's message. "
            "On success the address is `verified` and usable from `usable_from` (after the cool-down).\n"
            "- `micropayment` (JSON `{method}`): answers the address with `micropayment` "
            "`{amount, currency, to_address}`: send exactly that amount from the address to `to_address`; "
            "the address is verified once the payment is seen. Asking again answers the same amount.\n"
            "- `evidence` (multipart `method=evidence`, `file`): evidence for staff review (e.g. a screenshot "
            "of your account at the receiving exchange); the address becomes `pending_review`. A PDF, PNG or "
            "JPEG whose content matches its name, at most `EVIDENCE_MAX_BYTES` (5 MiB unless configured); "
            "a larger body is refused before it is read (`validation_error`, field `file`)."
        ),
        request={"application/json": AddressVerifyInputSerializer,
                 "multipart/form-data": AddressVerifyInputSerializer},
        responses={200: AddressOutputSerializer,
                   **error_responses("invalid_signature", "challenge_expired", "challenge_used", "validation_error",
                                     "invalid_transition", "micropayment_unavailable", "not_found", *AUTH_ERRORS)},
    )
    def post(self, request, address_id: int):
        address = address_get_for_customer(customer=request.customer, address_id=address_id)
        # Before request.data: an oversized upload is refused unread.
        evidence_upload_size_check(content_type=request.content_type,
                                   content_length=request.META.get("CONTENT_LENGTH"))
        data = AddressVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        method = body["method"]
        if method == "signature":
            address = services.address_verify_signature(address=address, nonce=body["nonce"],
                                                        signature=body["signature"])
        elif method == "micropayment":
            address = services.address_micropayment_expect(address=address)
        else:
            address = services.address_submit_evidence(address=address, file=body["file"])
        return Response(AddressOutputSerializer(address).data)
