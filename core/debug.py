"""Error reports never show what ``sensitive_variables`` marks (hot keys), DEBUG or not.

Django's own filter blanks marked variables only when DEBUG is off; the demo runs with DEBUG on,
and a key must not reach a technical 500 page or an error e-mail there either."""

from django.views.debug import SafeExceptionReporterFilter


class KeySafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True
