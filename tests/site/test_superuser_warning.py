"""Outside the demo no superuser bypasses the flows: with DEBUG off an active superuser stops every
start path (one ``Configuration error:`` line naming the accounts and the demote command), and is a
warning in ``manage.py check`` (so migrate and the demote command still run). The subprocess start
paths are in test_production_start.py."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from withdrawals_site import preflight

pytestmark = pytest.mark.django_db


def test_an_active_superuser_with_debug_off_stops_the_start(settings):
    settings.DEBUG = False
    assert preflight.check_superusers() is None
    root = get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    problem = preflight.check_superusers()
    assert "1 active superuser(s) exist (root)" in str(problem)
    assert "manage.py staff_demote_superusers root" in str(problem)
    (warning,) = preflight.superuser_warnings()
    assert "refuses to start" in warning
    assert [check.id for check in preflight.superuser_check()] == ["withdrawals_site.W001"]
    root.is_active = False
    root.save()
    assert preflight.check_superusers() is None and preflight.superuser_warnings() == []


def test_the_demo_debug_mode_does_not_refuse(settings):
    settings.DEBUG = True
    get_user_model().objects.create_superuser("admin", "admin@example.test", "pass-1234")
    assert preflight.check_superusers() is None
    assert preflight.superuser_warnings(debug=True) == []


def test_production_or_exit_refuses_in_one_line(settings):
    settings.DEBUG = False
    settings.SECRET_KEY, settings.FIELD_ENCRYPTION_KEY = "s" * 60, "x" * 43 + "="
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    get_user_model().objects.create_superuser("root", "root@example.test", "pass-1234")
    out = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        preflight.production_or_exit(stream=out)
    assert stopped.value.code == 2
    (line,) = out.getvalue().splitlines()
    assert line.startswith("Configuration error: Production: DEBUG is off and 1 active superuser(s) exist (root)")


def test_the_demote_command_is_a_tightening_change_that_applies_at_once(settings):
    settings.DEBUG = False
    user_model = get_user_model()
    user_model.objects.create_superuser("root", "root@example.test", "pass-1234")
    user_model.objects.create_superuser("ops", "ops@example.test", "pass-1234")
    out = io.StringIO()
    call_command("staff_demote_superusers", "root", stdout=out)
    assert "root" in out.getvalue()
    assert list(user_model.objects.filter(is_superuser=True).values_list("username", flat=True)) == ["ops"]
    call_command("staff_demote_superusers", stdout=out)
    assert preflight.check_superusers() is None
    root = user_model.objects.get(username="root")
    assert root.is_staff and root.is_active, "only the superuser flag goes"
