"""Passkeys (django-otp-webauthn) as the staff's other second factor.

The package's own ceremony views, with two changes: a passkey check also records the time of
the verification (``core.second_factor``), and there is no passwordless login (a staff member
signs in with the password first). URLs keep the package's namespace, so its scripts find them.
"""

from __future__ import annotations

from django.urls import path
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import exceptions
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)
from rest_framework.exceptions import PermissionDenied
from rest_framework.views import exception_handler as drf_exception_handler

from core import api_errors
from core.second_factor import fresh_second_factor_required
from staff.services import staff_has_second_factor, staff_session_mark_fresh, staff_session_mark_verified


def _passkey_exception_handler(exc, context):
    """The console's error shape where it knows the error; the package's own API errors (invalid
    state, unknown credential, ...) keep DRF's {"detail"} that its scripts show."""
    return api_errors.exception_handler(exc, context) or drf_exception_handler(exc, context)


class PasskeyErrors:
    schema = None  # admin ceremonies, not the App API: kept out of the OpenAPI schema

    def get_exception_handler(self):
        return _passkey_exception_handler


class StaffBeginAuthenticationView(PasskeyErrors, BeginCredentialAuthenticationView):
    pass


class StaffCompleteAuthenticationView(PasskeyErrors, CompleteCredentialAuthenticationView):
    def complete_auth(self, device):
        if not (self.request.user.is_authenticated and device.user_id == self.request.user.pk):
            raise exceptions.NotAuthenticated()
        staff_session_mark_verified(request=self.request, device=device)


class StaffMayRegister:
    """Who may add a passkey: staff without any second factor yet (enrolment), or staff whose
    session passed the second factor within STAFF_OTP_FRESH_SECONDS. A password-only session of
    someone who has a device never can (that would bypass the device)."""

    def check_can_register(self):
        super().check_can_register()
        user = self.request.user
        if not user.is_staff:
            raise PasskeyNotAllowed()
        if user.is_verified():
            if fresh_second_factor_required(self.request):
                raise PasskeyNotAllowed(detail="Confirm it is you again (code or passkey) before adding a passkey.")
        elif staff_has_second_factor(user=user):
            raise PasskeyNotAllowed(detail="Verify with your existing second factor before adding a passkey.")


class PasskeyNotAllowed(PermissionDenied):
    default_detail = "You may not add a passkey now."


class StaffBeginRegistrationView(PasskeyErrors, StaffMayRegister, BeginCredentialRegistrationView):
    pass


class StaffCompleteRegistrationView(PasskeyErrors, StaffMayRegister, CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        was_verified = self.request.user.is_verified()
        response = super().post(*args, **kwargs)
        if not was_verified and self.request.user.is_verified():  # a first device: verified by enrolling it
            staff_session_mark_fresh(request=self.request)
        return response


app_name = "otp_webauthn"
urlpatterns = [
    path("registration/begin/", StaffBeginRegistrationView.as_view(), name="credential-registration-begin"),
    path("registration/complete/", StaffCompleteRegistrationView.as_view(), name="credential-registration-complete"),
    path("authentication/begin/", StaffBeginAuthenticationView.as_view(),
         name="credential-authentication-begin"),
    path("authentication/complete/", StaffCompleteAuthenticationView.as_view(),
         name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]), name="js-i18n-catalog"),
]
