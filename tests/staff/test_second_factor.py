"""Staff reach the admin with a password and a TOTP code; sensitive actions ask for a fresh code;
idle sessions end; the secret never sits in the database in clear."""

import re
import time
from io import StringIO

import pyotp
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from chains.models import Coin, Network
from core.second_factor import VERIFIED_AT_SESSION_KEY
from staff.middleware import LAST_SEEN_SESSION_KEY
from staff.models import StaffTotpDevice
from staff.services import staff_totp_enrol, staff_totp_secret
from tests.fixtures.factories import CoinFactory, StaffFactory
from tests.fixtures.staff import age_second_factor, login_verified_staff, staff_authenticator, unused_code

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"
PASSWORD = "pass-1234"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_with_device(db):
    user = StaffFactory(is_superuser=True)
    return user, staff_authenticator(user)


def sign_in(client, user, code=None):
    data = {"username": user.username, "password": PASSWORD, "next": "/admin/"}
    if code is not None:
        data["otp_token"] = code
    return client.post(LOGIN, data)


def test_the_login_page_asks_for_username_password_and_code(client):
    body = client.get(LOGIN).content.decode()
    assert 'name="username"' in body and 'name="password"' in body and 'name="otp_token"' in body


def test_password_and_code_open_the_admin(client, staff_with_device):
    user, device = staff_with_device
    response = sign_in(client, user, unused_code(device))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("code", [None, "", "000000", "12345"])
def test_without_the_right_code_no_admin_page_opens(client, staff_with_device, code):
    user, device = staff_with_device
    if code == "000000" and unused_code(device) == "000000":
        code = "111111"
    response = sign_in(client, user, code)
    assert response.status_code == 200
    assert "correct username, password and authenticator code" in response.content.decode()
    page = client.get("/admin/")
    assert page.status_code == 302 and page["Location"].startswith(LOGIN)


def test_a_code_works_once(client, staff_with_device):
    user, device = staff_with_device
    code = unused_code(device)
    assert sign_in(client, user, code).status_code == 302
    client.logout()
    assert sign_in(client, user, code).status_code == 200  # refused: already used
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_back_off(client, staff_with_device):
    user, device = staff_with_device
    good = unused_code(device)
    sign_in(client, user, "111111" if good != "111111" else "222222")
    assert sign_in(client, user, good).status_code == 200  # within the 1 s back-off: refused
    assert client.get("/admin/").status_code == 302
    assert StaffTotpDevice.objects.get(pk=device.pk).throttling_failure_count == 1
    time.sleep(1.1)
    assert sign_in(client, user, unused_code(device)).status_code == 302
    assert StaffTotpDevice.objects.get(pk=device.pk).throttling_failure_count == 0


def test_staff_without_a_device_reach_only_enrolment(client):
    user = StaffFactory(is_superuser=True)
    assert sign_in(client, user).status_code == 302  # password only: no device yet
    for path in ("/admin/", "/admin/chains/coin/", "/admin/staff/stafftotpdevice/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("staff:enrol"))
    page = client.get(reverse("staff:enrol"))
    body = page.content.decode()
    assert page.status_code == 200 and "<svg" in body and "no-store" in page["Cache-Control"]
    assert not re.search(r'(src|href)="https?://', body)  # the QR code is drawn here, no external host
    device = StaffTotpDevice.objects.get(user=user, confirmed=False)
    secret = staff_totp_secret(device=device)
    assert secret[:4] in body  # the key, for typing it in
    assert client.post(reverse("staff:enrol"), {"otp_token": "000001"}).status_code == 200
    assert client.get("/admin/").status_code == 302
    time.sleep(1.1)  # past the back-off of the wrong code
    response = client.post(reverse("staff:enrol"), {"otp_token": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert StaffTotpDevice.objects.get(user=user).confirmed


def test_a_session_without_the_code_is_sent_to_the_code_page(client, staff_with_device):
    user, device = staff_with_device
    client.force_login(user)  # e.g. signed in before the authenticator existed
    response = client.get("/admin/chains/coin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))
    response = client.post(reverse("staff:verify") + "?next=/admin/chains/coin/", {"otp_token": unused_code(device)})
    assert response["Location"] == "/admin/chains/coin/"
    assert client.get("/admin/chains/coin/").status_code == 200
    assert client.post(reverse("admin:logout")).status_code == 200


def test_the_totp_secret_is_not_stored_in_clear(db):
    user = StaffFactory()
    device, uri = staff_totp_enrol(user=user)
    secret = staff_totp_secret(device=device)
    assert secret in uri and len(secret) >= 32
    with connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM staff_stafftotpdevice t WHERE id = %s", [device.pk])
        (row,) = cursor.fetchone()
    assert secret not in row and secret.lower() not in row.lower()


def test_a_kill_switch_flip_asks_for_a_fresh_code_after_15_minutes(client, staff_with_device):
    user, device = staff_with_device
    network = CoinFactory().network
    login_verified_staff(client, user)
    age_second_factor(client, 16 * 60)
    flip = {"action": "pause_sending", ACTION_CHECKBOX_NAME: [network.pk], "apply": "1", "reason": "incident 42"}
    response = client.post("/admin/chains/network/", flip)
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))
    assert not Network.objects.get(pk=network.pk).sending_paused

    response = client.post(response["Location"], {"otp_token": unused_code(device)})
    body = response.content.decode()
    assert response.status_code == 200 and "Continue" in body and "incident 42" in body
    assert not Network.objects.get(pk=network.pk).sending_paused  # nothing done before Continue
    client.post("/admin/chains/network/", flip)
    assert Network.objects.get(pk=network.pk).sending_paused


def test_a_fresh_code_lets_the_action_through_at_once(client, staff_with_device):
    user, _ = staff_with_device
    network = CoinFactory().network
    login_verified_staff(client, user)
    age_second_factor(client, 14 * 60)
    client.post("/admin/chains/network/", {"action": "pause_sending", ACTION_CHECKBOX_NAME: [network.pk],
                                           "apply": "1", "reason": "incident 43"})
    assert Network.objects.get(pk=network.pk).sending_paused


def test_a_coin_configuration_change_asks_for_a_fresh_code(client, staff_with_device):
    user, _ = staff_with_device
    coin = CoinFactory(confirmations=3)
    login_verified_staff(client, user)
    age_second_factor(client, 16 * 60)
    response = client.post(reverse("admin:chains_coin_change", args=[coin.pk]), {"confirmations": "1"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))
    assert Coin.objects.get(pk=coin.pk).confirmations == 3


def test_an_idle_session_is_logged_out_after_30_minutes(client, staff_with_device):
    user, _ = staff_with_device
    login_verified_staff(client, user)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[LAST_SEEN_SESSION_KEY] = time.time() - 31 * 60
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert VERIFIED_AT_SESSION_KEY not in client.session


def test_the_session_cookie_is_httponly_and_samesite_lax(client, staff_with_device):
    user, device = staff_with_device
    sign_in(client, user, unused_code(device))
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_demo_otp_prints_a_staff_code(settings, staff_with_device):
    settings.DEBUG = True
    user, device = staff_with_device
    out = StringIO()
    call_command("demo_otp", user.username, stdout=out)
    assert out.getvalue().strip() == device.totp().now()


PASSKEY_BEGIN = "/admin/2fa/passkeys/registration/begin/"


def begin_passkey(client):
    return client.post(PASSKEY_BEGIN, data="{}", content_type="application/json")


def test_a_password_only_session_cannot_add_a_passkey_past_the_authenticator(client, staff_with_device):
    user, _ = staff_with_device
    client.force_login(user)  # password done, code not yet
    response = begin_passkey(client)
    assert response.status_code == 403
    assert "otp_webauthn_register_state" not in client.session


def test_adding_a_passkey_needs_a_fresh_second_factor(client, staff_with_device):
    user, _ = staff_with_device
    login_verified_staff(client, user)
    assert begin_passkey(client).status_code == 200
    age_second_factor(client, 16 * 60)
    assert begin_passkey(client).status_code == 403
    response = client.get(reverse("staff:devices"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))


def test_staff_without_any_device_may_enrol_a_passkey(client):
    client.force_login(StaffFactory())
    assert begin_passkey(client).status_code == 200
    assert reverse("otp_webauthn:credential-registration-begin") == PASSKEY_BEGIN


def test_a_passkey_answer_without_a_started_check_is_refused_not_a_crash(client, staff_with_device):
    user, _ = staff_with_device
    client.force_login(user)
    response = client.post("/admin/2fa/passkeys/authentication/complete/", data="{}", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()
    assert client.get("/admin/").status_code == 302  # still not verified


def test_deleting_a_second_factor_asks_for_a_fresh_code(client, staff_with_device):
    user, _ = staff_with_device
    other = staff_authenticator(StaffFactory())
    login_verified_staff(client, user)
    age_second_factor(client, 16 * 60)
    response = client.post(reverse("admin:staff_stafftotpdevice_delete", args=[other.pk]), {"post": "yes"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("staff:verify"))
    assert StaffTotpDevice.objects.filter(pk=other.pk).exists()
    page = client.get(reverse("admin:staff_stafftotpdevice_change", args=[other.pk])).content.decode()
    assert staff_totp_secret(device=other) not in page and other.secret_encrypted not in page
