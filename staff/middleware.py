"""Staff sessions: an idle timeout, and no admin page without the second factor."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.urls import reverse

from staff.services import staff_totp_device_get

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
    enrolment (no device yet), the code page (a device) and logout. Runs after django-otp's
    OTPMiddleware, which provides ``request.user.is_verified()``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.is_staff and self._guarded(request.path) and not user.is_verified():
            target = "staff:verify" if staff_totp_device_get(user=user) is not None else "staff:enrol"
            return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _guarded(path: str) -> bool:
        if not path.startswith(reverse("admin:index")):
            return False
        open_paths = (reverse("admin:login"), reverse("admin:logout"), reverse("staff:verify"), reverse("staff:enrol"))
        return path not in open_paths
