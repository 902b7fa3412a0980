"""Input and output shapes of the address endpoints (SPEC.md, "App API")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api_fields import StrictCharField
from withdrawals.models.addresses import AddressChallenge, CustomerAddress
from withdrawals.selectors.addresses import address_is_usable


class MicropaymentOutputSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="Send exactly this amount (decimal string) ...")
    currency = serializers.CharField(help_text="... of this currency (the network's native one) ...")
    to_address = serializers.CharField(help_text="... from the registered address to this tenant deposit address.")
    tx_hash = serializers.CharField(help_text="The transaction that carried it, once seen; empty before.")


class AddressOutputSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.code")
    method = serializers.CharField(source="verification_method",
                                   help_text="How ownership is (being) proven: signature, micropayment, evidence; "
                                             "empty before a method is chosen.")
    usable = serializers.SerializerMethodField(help_text="Verified and past the cool-down: withdrawals may use it.")
    micropayment = serializers.SerializerMethodField()

    class Meta:
        model = CustomerAddress
        fields = ["id", "network", "address", "label", "memo", "status", "method", "verified_at", "usable_from",
                  "usable", "micropayment", "created_at"]
        read_only_fields = fields

    def get_usable(self, obj: CustomerAddress) -> bool:
        return address_is_usable(obj)

    @extend_schema_field(MicropaymentOutputSerializer(allow_null=True))
    def get_micropayment(self, obj: CustomerAddress) -> dict | None:
        if obj.micropayment_amount is None:
            return None
        return {
            "amount": f"{obj.micropayment_amount.normalize():f}",
            "currency": obj.network.native_currency.code,
            "to_address": obj.micropayment_to,
            "tx_hash": obj.micropayment_tx_hash,
        }


class AddressCreateInputSerializer(serializers.Serializer):
    network = StrictCharField(max_length=16, help_text="Network code: ETH, BTC, TRON.")
    # Not trimmed, blank allowed: the address rules (chains.addresses) answer invalid_address.
    address = StrictCharField(max_length=1000, allow_blank=True, trim_whitespace=False)
    label = StrictCharField(max_length=100, allow_blank=True, required=False, default="")
    memo = StrictCharField(max_length=100, allow_blank=True, required=False, default="",
                                 help_text="Destination tag / memo, where the network has one.")


class ChallengeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AddressChallenge
        fields = ["nonce", "message", "expires_at"]
        read_only_fields = fields


class AddressVerifyInputSerializer(serializers.Serializer):
    """One body, three methods. JSON for ``signature`` and ``micropayment``; multipart for ``evidence``."""

    method = serializers.ChoiceField(choices=CustomerAddress.Method.choices)
    nonce = StrictCharField(max_length=64, required=False,
                                  help_text="signature: the nonce of a challenge from POST …/challenge/.")
    signature = StrictCharField(max_length=1000, required=False,
                                      help_text="signature: the signature of the challenge message by the address's "
                                                "key — 0x-hex (EIP-191 on ETH, TRON message signing on TRON) or "
                                                "base64 (Bitcoin signed message on BTC).")
    file = serializers.FileField(required=False, help_text="evidence: a PNG, JPEG, WebP or PDF up to 10 MB.")

    def validate(self, attrs):
        method = attrs["method"]
        needed = {"signature": ("nonce", "signature"), "evidence": ("file",)}.get(method, ())
        for name in needed:
            if not attrs.get(name):
                raise serializers.ValidationError({name: f"Required with method {method!r}."})
        return attrs
