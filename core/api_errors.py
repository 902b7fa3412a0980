"""The one place where errors become the SPEC.md error JSON ``{"code", "detail", "field"}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.errors import ERROR_CODES, DomainError

_DRF_CODES = [
    (drf.NotAuthenticated, "unauthenticated"),
    (drf.AuthenticationFailed, "unauthenticated"),
    (drf.PermissionDenied, "permission_denied"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.Throttled, "throttled"),
    (drf.ParseError, "validation_error"),
    (drf.UnsupportedMediaType, "validation_error"),
    (drf.NotAcceptable, "validation_error"),
]


def _first_error(detail, prefix: str = "") -> tuple[str | None, str]:
    """The first (field, message) of a DRF ValidationError detail, fields dotted."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            field, message = _first_error(value, name)
            if key == "non_field_errors":
                field = prefix or None
            return field, message
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], prefix)
    return (prefix or None), str(detail)


def error_response(error: DomainError, headers: dict | None = None) -> Response:
    return Response(error.as_dict(), status=error.status, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(exc)
    if isinstance(exc, Http404):
        return error_response(DomainError("not_found"))
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(DomainError("permission_denied"))
    if isinstance(exc, drf.ValidationError):
        field, message = _first_error(exc.detail)
        return error_response(DomainError("validation_error", message, field=field))
    for exc_class, code in _DRF_CODES:
        if isinstance(exc, exc_class):
            # Raised with a public code of its own (``AuthenticationFailed(..., code="token_expired")``).
            own_code = getattr(exc.detail, "code", None)
            if own_code in ERROR_CODES:
                code = own_code
            status = 401 if code in ("unauthenticated", "token_expired") else exc.status_code
            headers = {}
            if isinstance(exc, drf.Throttled) and exc.wait:
                headers["Retry-After"] = str(int(exc.wait) + 1)
            if status == 401:
                headers["WWW-Authenticate"] = "Token"
            return error_response(DomainError(code, str(exc.detail), status=status), headers)
    return None  # a real bug: Django's 500 handling, logged


@csrf_exempt  # it changes nothing: without this a POST with no CSRF cookie got Django's HTML 403 page
def json_404(request, exception=None):
    """Unknown URLs under /api/ answer in the error shape too; the rest get Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(DomainError("not_found").as_dict(), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request):
    if request.path.startswith("/api/"):
        body = {"code": "server_error", "detail": "Internal error; nothing was changed.", "field": None}
        return JsonResponse(body, status=500)
    from django.views.defaults import server_error

    return server_error(request)
