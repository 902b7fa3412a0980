"""Staff sign-in with a second factor, enrolment, and re-verification before sensitive actions."""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from django.contrib import admin
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from core.errors import DomainError
from core.second_factor import PENDING_POST_SESSION_KEY, fresh_second_factor_required, second_factor_challenge
from staff.forms import OtpForm, StaffLoginForm
from staff.services import (
    staff_has_second_factor,
    staff_passkey_exists,
    staff_passkeys,
    staff_session_mark_verified,
    staff_totp_confirm,
    staff_totp_device_get,
    staff_totp_enrol,
    staff_totp_secret,
    staff_totp_verify,
)

WRONG_LOGIN = "Please enter the correct username, password and authenticator code for a staff account."


def _next(request, default: str = "") -> str:
    raw = request.POST.get("next") or request.GET.get("next") or ""
    if raw and url_has_allowed_host_and_scheme(raw, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return raw
    return default or reverse("admin:index")


def _page(request, template: str, title: str, context: dict):
    return TemplateResponse(request, template, {**admin.site.each_context(request), "title": title, **context})


class StaffLoginView(LoginView):
    """Replaces the admin login (same URL): the code is required whenever the account has a
    confirmed authenticator, and a wrong code is refused with the same words as a wrong password."""

    form_class = StaffLoginForm
    template_name = "staff/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs):
        return {**admin.site.each_context(self.request), "title": "Log in", "app_path": self.request.get_full_path(),
                **super().get_context_data(**kwargs)}

    def get_default_redirect_url(self):
        return reverse("admin:index")

    def form_valid(self, form):
        user = form.get_user()
        device = staff_totp_device_get(user=user)
        if device is not None:
            try:
                device = staff_totp_verify(user=user, code=form.cleaned_data.get("otp_token") or "")
            except DomainError:
                form.add_error(None, WRONG_LOGIN)
                return self.form_invalid(form)
        auth_login(self.request, user)
        if device is not None:
            staff_session_mark_verified(request=self.request, device=device)
        return HttpResponseRedirect(self.get_success_url())


@never_cache
def verify_view(request):
    """Enter a code: after a password-only session (no code yet) or when a sensitive action needs a
    fresh one. A sensitive POST that was interrupted is offered again with a Continue button."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return HttpResponseRedirect(f"{reverse('admin:login')}?next={reverse('admin:index')}")
    if not staff_has_second_factor(user=request.user):
        return HttpResponseRedirect(reverse("staff:enrol"))
    next_url = _next(request)
    pending = request.session.get(PENDING_POST_SESSION_KEY)
    if request.method == "GET" and request.user.is_verified() and not fresh_second_factor_required(request):
        # Back from a passkey check (the passkey script lands here): offer the interrupted action.
        if pending and pending.get("path") == next_url:
            request.session.pop(PENDING_POST_SESSION_KEY)
            return _page(request, "staff/continue.html", "Continue the action",
                         {"path": pending["path"], "fields": pending["fields"]})
        return HttpResponseRedirect(next_url)
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = staff_totp_verify(user=request.user, code=form.cleaned_data["otp_token"])
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            staff_session_mark_verified(request=request, device=device)
            pending = request.session.pop(PENDING_POST_SESSION_KEY, None)
            if pending and pending.get("path") == next_url:
                return _page(request, "staff/continue.html", "Continue the action",
                             {"path": pending["path"], "fields": pending["fields"]})
            return HttpResponseRedirect(next_url)
    return _page(request, "staff/verify.html", "Confirm it is you", {
        "form": form, "next": next_url,
        "has_totp": staff_totp_device_get(user=request.user) is not None,
        "has_passkey": staff_passkey_exists(user=request.user),
        # where the passkey script goes once the check passed: here again, for the Continue button
        "passkey_next": f"{reverse('staff:verify')}?{urlencode({'next': next_url})}",
        "explanation": "This needs a current code from your authenticator app (or your passkey): sensitive "
                       "actions ask again when the last check is more than 15 minutes old.",
    })


@never_cache
def enrol_view(request):
    """Enrol an authenticator app: a QR code (drawn here, as inline SVG) and the key, then a first code."""
    if not (request.user.is_authenticated and request.user.is_staff):
        return HttpResponseRedirect(f"{reverse('admin:login')}?next={reverse('staff:enrol')}")
    if staff_has_second_factor(user=request.user):
        return HttpResponseRedirect(reverse("staff:devices"))
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = staff_totp_confirm(user=request.user, code=form.cleaned_data["otp_token"])
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            staff_session_mark_verified(request=request, device=device)
            return HttpResponseRedirect(reverse("admin:index"))
    device, uri = staff_totp_enrol(user=request.user)
    secret = staff_totp_secret(device=device)
    response = _page(request, "staff/enrol.html", "Enrol your authenticator app", {
        "form": form,
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=5, title="Authenticator enrolment QR code"),
        "key_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
    })
    add_never_cache_headers(response)
    return response


@never_cache
def devices_view(request):
    """A verified staff member's second factors; adding a passkey asks for a fresh check first."""
    if challenge := second_factor_challenge(request):
        return challenge
    return _page(request, "staff/devices.html", "Your second factor", {
        "totp": staff_totp_device_get(user=request.user),
        "passkeys": staff_passkeys(user=request.user),
    })
