"""Login lockout (django-axes): when it ends, and how a locked-out login is answered.

Axes counts failed logins per username and per client IP (``AXES_LOCKOUT_PARAMETERS``); past
``AXES_FAILURE_LIMIT`` its backend refuses that username or IP, even with the right password,
until ``AXES_COOLOFF_TIME`` after the last counted failure. The App login answers
``login_locked`` (429, ``Retry-After``) in the error JSON; the admin login a plain 429 page.
"""

from __future__ import annotations

import math
from datetime import datetime

from axes.helpers import get_client_parameters, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from core.errors import DomainError
from core.times import iso_utc


def login_locked_until(request, username: str | None) -> datetime | None:
    """The end of the lockout that applies to this username or this request's IP, if any."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    ip_address = getattr(request, "axes_ip_address", None)
    query = Q()
    for filters in get_client_parameters(username, ip_address, None, request):
        query |= Q(**filters)
    last = AccessAttempt.objects.filter(query).aggregate(last=Max("attempt_time"))["last"]
    return last + cool_off if last else None


def login_locked_error(request, username: str | None) -> tuple[DomainError, int]:
    """The refusal and the seconds until it lifts (for ``Retry-After``)."""
    until = login_locked_until(request, username)
    if until is None:
        return DomainError("login_locked", "Too many failed logins; try again later."), 60
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    return DomainError("login_locked", f"Too many failed logins; locked until {iso_utc(until)}."), seconds


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the error JSON under /api/, a short text page elsewhere (admin)."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    error, seconds = login_locked_error(request, username)
    headers = {"Retry-After": str(seconds)}
    if request.path.startswith("/api/"):
        return JsonResponse(error.as_dict(), status=error.status, headers=headers)
    return HttpResponse(error.detail, status=error.status, content_type="text/plain; charset=utf-8",
                        headers=headers)
