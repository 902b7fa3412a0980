from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm


def otp_field(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label="Authenticator code", required=required, max_length=12,
        help_text="The 6-digit code of your authenticator app (staff without one enrol after signing in).",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "pattern": "[0-9]{6}", "size": 8}))


class StaffLoginForm(AdminAuthenticationForm):
    """The admin login: username, password and the authenticator code. The code is checked by the
    view (``staff.services``) once the password is right."""

    otp_token = otp_field(required=False)


class OtpForm(forms.Form):
    otp_token = otp_field()
