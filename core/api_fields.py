"""Serializer fields for exact amounts, shared by every App endpoint."""

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.amounts import format_amount
from core.errors import DomainError


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d+(\.\d+)?$", "example": "0.015"})
class AmountString(serializers.Field):
    """Exact amounts leave the API as canonical decimal strings ("0.015")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return format_amount(value)


@extend_schema_field(OpenApiTypes.STR)
class AmountInput(serializers.Field):
    """Amounts arrive as JSON strings, exactly as sent: a number or a padded string is refused
    (``invalid_amount``), never coerced or trimmed. The service parses the value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", 'A decimal string, e.g. "0.015".')
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise DomainError("invalid_amount", 'The amount must be a JSON string such as "0.015".',
                              field=self.field_name)
        return data

    def to_representation(self, value):
        return value


class StrictCharField(serializers.CharField):
    """A text input that is text: a JSON number or boolean is ``validation_error``, not turned
    into "0" or "True" (DRF's CharField coerces numbers). Form and multipart values are text."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer input that is a JSON integer: ``"5"``, ``5.0`` or ``true`` is ``validation_error``
    (DRF's IntegerField takes them). A form or multipart body can only send text, so there a
    string of digits is still read as the integer it spells."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str) and not isinstance(getattr(self.root, "initial_data", None), QueryDict):
            self.fail("invalid")
        return super().to_internal_value(data)


class HistorySerializer(serializers.Serializer):
    """One status move of a record as the App sees it: {"from", "to", "at", "reason"}."""

    # "from" is a Python keyword, so the field is declared under another name and renamed in
    # get_fields (not in to_representation): the OpenAPI schema then documents "from" too.
    from_ = serializers.CharField(source="from_status", allow_null=True,
                                  help_text="The status before the move; null for the request itself.")
    to = serializers.CharField(source="to_status")
    at = serializers.DateTimeField()
    reason = serializers.CharField()

    def get_fields(self):
        return {("from" if name == "from_" else name): field for name, field in super().get_fields().items()}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["from"] = data["from"] or None
        return data
