"""Staff sessions: an idle timeout, and no admin page without the second factor."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse

from staff.services import staff_has_second_factor

LAST_SEEN_SESSION_KEY = "session_last_seen_at"


class SessionIdleTimeoutMiddleware:
    """Logs a session out after SESSION_IDLE_TIMEOUT_SECONDS without a request (the next request
    finds itself anonymous: the admin asks for the login again)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = time.time()
            last_seen = session.get(LAST_SEEN_SESSION_KEY)
            if last_seen is not None and now - float(last_seen) > settings.SESSION_IDLE_TIMEOUT_SECONDS:
                logout(request)
                messages.info(request, "You were signed out after being idle; sign in again.")
            else:
                session[LAST_SEEN_SESSION_KEY] = now
        return self.get_response(request)


class StaffSecondFactorMiddleware:
    """Under /admin/, a signed-in staff member without a verified second factor reaches only
    enrolment (no device yet), the code page (a device), the passkey ceremonies and logout. Runs
    after django-otp's OTPMiddleware, which provides ``request.user.is_verified()``."""

    OPEN_NAMESPACES = {"staff", "otp_webauthn"}
    OPEN_VIEWS = {"staff-login", "admin:login", "admin:logout"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not (user.is_authenticated and user.is_staff) or not request.path.startswith(reverse("admin:index")):
            return None
        match = request.resolver_match
        if match.namespace in self.OPEN_NAMESPACES or match.view_name in self.OPEN_VIEWS:
            return None
        if user.is_verified():
            return None
        target = "staff:verify" if staff_has_second_factor(user=user) else "staff:enrol"
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
