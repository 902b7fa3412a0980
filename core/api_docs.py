"""OpenAPI documentation of the error responses (drf-spectacular)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from core.errors import ERROR_CODES, ERROR_STATUS

ErrorSerializer = inline_serializer("Error", {
    "code": serializers.CharField(help_text="A public error code, see the operation's list."),
    "detail": serializers.CharField(),
    "field": serializers.CharField(allow_null=True),
})


# What every authenticated operation can answer: no or a bad token, an expired or revoked one,
# a user who is not an App customer.
AUTH_ERRORS = ("unauthenticated", "token_expired", "permission_denied")


def error_responses(*codes: str) -> dict[int, OpenApiResponse]:
    """The error responses of an operation, grouped by HTTP status, each code described."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS.get(code, 400), []).append(code)
    return {
        http_status: OpenApiResponse(
            ErrorSerializer,
            description="; ".join(f"`{code}`: {ERROR_CODES.get(code, code)}" for code in group),
            examples=[OpenApiExample(code, value={"code": code, "detail": ERROR_CODES.get(code, code),
                                                  "field": None}, response_only=True, status_codes=[http_status])
                      for code in group],
        )
        for http_status, group in by_status.items()
    }


def document_common_errors(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation can answer 405 (another method)."""
    description = f"`method_not_allowed`: {ERROR_CODES['method_not_allowed']}"
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("405", {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
