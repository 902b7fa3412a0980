"""Outside the demo no superuser bypasses the roles: with DEBUG off an active superuser is a
warning at start (runconsole's preflight) and in ``manage.py check --deploy``."""

import io

import pytest
from django.contrib.auth import get_user_model

from withdrawals_site import preflight

pytestmark = pytest.mark.django_db


def test_an_active_superuser_with_debug_off_is_a_warning(settings):
    settings.DEBUG = False
    assert preflight.superuser_warnings() == []
    root = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    (warning,) = preflight.superuser_warnings()
    assert "1 active superuser(s) exist (root)" in warning
    assert [check.id for check in preflight.superuser_check()] == ["withdrawals_site.W001"]
    root.is_active = False
    root.save()
    assert preflight.superuser_warnings() == []


def test_the_demo_debug_mode_does_not_warn(settings):
    get_user_model().objects.create_superuser("admin", "admin@example.test", "pass-1234")
    assert preflight.superuser_warnings(debug=True) == []


def test_preflight_prints_the_warning_and_starts(settings, monkeypatch):
    settings.DEBUG = False
    get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    monkeypatch.setattr(preflight, "preflight_problems", lambda **kw: [])
    out = io.StringIO()
    preflight.preflight_or_exit(stream=out)  # no SystemExit: a warning does not stop the start
    assert out.getvalue().startswith("Warning: DEBUG is off and 1 active superuser(s)")
