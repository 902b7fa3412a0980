"""The freshness of a staff member's second factor, as any app reads it.

``staff`` writes the time of the last OTP verification into the session under
``VERIFIED_AT_SESSION_KEY``; apps that run sensitive actions (approve, reject, resolve, top-up,
kill switch, configuration change) ask ``second_factor_challenge(request)`` and answer its
response when there is one. They never import ``staff``.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponseRedirect
from django.urls import reverse

VERIFIED_AT_SESSION_KEY = "second_factor_verified_at"
# A sensitive POST interrupted by the challenge: replayed (after a click) once the code is entered.
PENDING_POST_SESSION_KEY = "second_factor_pending_post"
DEFAULT_FRESH_SECONDS = 900
DEFAULT_VERIFY_URL_NAME = "staff:verify"
_NOT_REPLAYED = {"csrfmiddlewaretoken"}


def second_factor_age(request) -> float | None:
    """Seconds since the session's last OTP verification, or None when it never verified."""
    verified_at = getattr(request, "session", {}).get(VERIFIED_AT_SESSION_KEY)
    if verified_at is None:
        return None
    return time.time() - float(verified_at)


def fresh_second_factor_required(request) -> bool:
    """True when the last verification is older than STAFF_OTP_FRESH_SECONDS (or never happened)."""
    age = second_factor_age(request)
    limit = getattr(settings, "STAFF_OTP_FRESH_SECONDS", DEFAULT_FRESH_SECONDS)
    return age is None or age > limit


def second_factor_challenge(request):
    """None when the second factor is fresh; otherwise a redirect to the re-verify page with
    ``next`` set to this request, keeping a POST's fields so it can be resubmitted afterwards.

    Usage, first line of the code that acts: ``if (challenge := second_factor_challenge(request)): return challenge``
    """
    if not fresh_second_factor_required(request):
        return None
    next_url = request.get_full_path()
    if request.method == "POST":
        request.session[PENDING_POST_SESSION_KEY] = {
            "path": next_url,
            "fields": [[key, value] for key, values in request.POST.lists() if key not in _NOT_REPLAYED
                       for value in values],
        }
    verify_url = reverse(getattr(settings, "STAFF_OTP_VERIFY_URL_NAME", DEFAULT_VERIFY_URL_NAME))
    return HttpResponseRedirect(f"{verify_url}?{urlencode({'next': next_url})}")
