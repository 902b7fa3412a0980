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


def link_creates_to_reads(result, generator, request, public):
    """drf-spectacular postprocessing hook: OpenAPI links from each create (a POST answering 201
    with an ``id``) to the operations on that object (``<collection>{param}/...``), so a stateful
    client (schemathesis' stateful phase) follows what it created."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if not isinstance(created, dict):
            continue
        for other, other_operations in paths.items():
            rest = other[len(path):] if other.startswith(path) else ""
            if not rest.startswith("{") or "}" not in rest:
                continue
            param = rest[1:rest.index("}")]
            if "{" in rest[rest.index("}"):]:
                continue  # more than one parameter: not this object's own operation
            for operation in other_operations.values():
                if isinstance(operation, dict) and operation.get("operationId"):
                    created.setdefault("links", {})[operation["operationId"]] = {
                        "operationId": operation["operationId"], "parameters": {param: "$response.body#/id"}}
    return result
