"""In a real browser (Chromium, headless) against a live server: staff sign in with a password
and a TOTP code; without the code, or with a wrong one, no admin page opens; a kill-switch flip
16 minutes after the last code asks for a code again and goes through once it is entered.

Screenshots land in var/test-artifacts/ (git-ignored)."""

import os
import shutil
import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections

from chains.models import Network
from core.second_factor import VERIFIED_AT_SESSION_KEY
from tests.conftest import require_service
from tests.fixtures.factories import CoinFactory, StaffFactory
from tests.fixtures.staff import staff_authenticator, unused_code

CHROMIUM = os.environ.get("WDC_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = settings.BASE_DIR / "var" / "test-artifacts"
PASSWORD = "pass-1234"


@pytest.fixture
def browser_page(monkeypatch):
    if not shutil.which(CHROMIUM):
        require_service("chromium", f"{CHROMIUM} is missing (scripts/bootstrap installs it with apt-get as root)")
    from playwright.sync_api import Error, sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage"])
        except Error as error:
            require_service("chromium", f"it does not start: {error}")
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(15_000)
        # Chromium reports each Content-Security-Policy refusal (an inline style or script the
        # policy blocked) on the console: none may happen on any page a browser test opens.
        page.csp_violations = []
        page.on("console", lambda message: page.csp_violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        yield page
        assert page.csp_violations == [], page.csp_violations
        context.close()
        browser.close()
        # The test's ORM calls ran under Playwright's event loop, on a connection of that context: close it.
        connections.close_all()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"staff2fa-{name}.png"), full_page=True)


def login(page, base: str, user, code: str) -> None:
    page.goto(f"{base}/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", code)
    page.click("#login-form input[type=submit]")


def test_staff_sign_in_with_totp_and_reverify_before_a_kill_switch_flip(transactional_db, live_server,
                                                                          browser_page, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    page, base = browser_page, live_server.url
    user = StaffFactory(username="ops-browser", is_superuser=True)
    device = staff_authenticator(user)
    network = CoinFactory().network

    # Without the code, then with a wrong one: the login page again, and no admin page behind it.
    login(page, base, user, "")
    assert "correct username, password and authenticator code" in page.content()
    shot(page, "1-no-code-refused")
    time.sleep(1.1)  # django-otp's back-off after a failure
    good = unused_code(device)
    login(page, base, user, "000000" if good != "000000" else "111111")
    assert "correct username, password and authenticator code" in page.content()
    shot(page, "2-wrong-code-refused")
    page.goto(f"{base}/admin/chains/network/")
    assert "/admin/login/" in page.url and page.locator("#id_otp_token").is_visible()

    # Password and the right code: the admin index.
    time.sleep(2.1)
    login(page, base, user, unused_code(device))
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("#site-name").is_visible() and "Operations desk" in page.content()
    shot(page, "3-admin-index")

    # 16 minutes later (the session's verified-at moved back), a kill-switch flip asks for a code.
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = SessionStore(session_key=session_key)
    session[VERIFIED_AT_SESSION_KEY] = session[VERIFIED_AT_SESSION_KEY] - 16 * 60
    session.save()
    page.goto(f"{base}/admin/chains/network/")
    page.check(f"input[name=_selected_action][value='{network.pk}']")
    page.select_option("select[name=action]", "pause_sending")
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", "Node provider incident (browser test)")
    page.click("input[type=submit][value^='Pause sending']")
    page.wait_for_url(f"{base}/admin/2fa/verify/**")
    assert page.locator("#id_otp_token").is_visible()
    shot(page, "4-code-asked-again")
    assert not Network.objects.get(pk=network.pk).sending_paused

    page.fill("#id_otp_token", unused_code(device))
    page.click("#verify-form input[type=submit]")
    page.locator("#continue-button").wait_for()
    assert not Network.objects.get(pk=network.pk).sending_paused
    page.click("#continue-button")
    page.wait_for_url(f"{base}/admin/chains/network/")
    assert "Sending paused" in page.content()
    shot(page, "5-action-done")
    assert Network.objects.get(pk=network.pk).sending_paused


def age_browser_session(page, seconds: float) -> None:
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = SessionStore(session_key=session_key)
    session[VERIFIED_AT_SESSION_KEY] = session[VERIFIED_AT_SESSION_KEY] - seconds
    session.save()


def test_a_passkey_is_the_second_factor_at_sign_in_and_before_a_kill_switch_flip(transactional_db, live_server,
                                                                                  browser_page, settings):
    from django_otp_webauthn.models import WebAuthnCredential

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    page, base = browser_page, live_server.url
    assert base.startswith("http://localhost:")  # a passkey needs a domain (never a bare IP)
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [base]
    cdp = page.context.new_cdp_session(page)  # Chromium's virtual authenticator stands in for the device
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    user = StaffFactory(username="ops-passkey", is_superuser=True)
    network = CoinFactory().network

    # First sign-in with the password: enrolment is the only page; a passkey is registered there.
    login(page, base, user, "")
    page.wait_for_url(f"{base}/admin/2fa/enrol/**")
    page.click("#passkey-register-button")
    page.wait_for_url(f"{base}/admin/")
    assert WebAuthnCredential.objects.filter(user=user, confirmed=True).count() == 1
    shot(page, "6-passkey-registered")

    # Next sign-in: the password alone reaches no admin page; the passkey does.
    page.context.clear_cookies()
    login(page, base, user, "")
    page.wait_for_url(f"{base}/admin/2fa/verify/**")
    page.goto(f"{base}/admin/chains/network/")
    assert "/admin/2fa/verify/" in page.url
    page.click("#passkey-verification-button")
    page.wait_for_url(f"{base}/admin/chains/network/")
    shot(page, "7-passkey-sign-in")

    # 16 minutes later a kill-switch flip asks for the passkey again, then goes through.
    age_browser_session(page, 16 * 60)
    page.check(f"input[name=_selected_action][value='{network.pk}']")
    page.select_option("select[name=action]", "pause_sending")
    page.click("button[name=index]")
    page.fill("textarea[name=reason]", "Passkey re-check (browser test)")
    page.click("input[type=submit][value^='Pause sending']")
    page.wait_for_url(f"{base}/admin/2fa/verify/**")
    assert not Network.objects.get(pk=network.pk).sending_paused
    page.click("#passkey-verification-button")
    page.locator("#continue-button").wait_for()
    page.click("#continue-button")
    page.wait_for_url(f"{base}/admin/chains/network/")
    assert "Sending paused" in page.content()
    assert Network.objects.get(pk=network.pk).sending_paused
    shot(page, "8-passkey-action-done")


def test_enrolment_admin_pages_and_the_api_docs_render_under_the_strict_policy(transactional_db, live_server,
                                                                               browser_page, settings):
    """No 'unsafe-inline' for styles: the enrolment page (QR code), admin lists and forms, the Users
    page and Swagger UI render with their styles from files, and the browser reports no refusal."""
    import pyotp

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    page, base = browser_page, live_server.url
    user = StaffFactory(username="csp-browser", is_superuser=True)
    CoinFactory()

    login(page, base, user, "")
    page.wait_for_url(f"{base}/admin/2fa/enrol/**")
    policy = page.request.get(f"{base}/admin/2fa/enrol/").headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "style-src 'self'" in policy
    qr = page.locator("#totp-qr")
    assert qr.locator("svg").is_visible()
    assert qr.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"  # console.css applied
    shot(page, "9-csp-enrolment")
    secret = page.locator("#totp-key").inner_text().replace(" ", "")
    page.fill("#id_otp_token", pyotp.TOTP(secret).now())
    page.click("#enrol-form input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    for path in ("/admin/", "/admin/chains/network/", "/admin/auth/user/", f"/admin/auth/user/{user.pk}/change/",
                 "/admin/auth/group/add/", "/admin/approvals/accesschange/"):
        page.goto(f"{base}{path}")
        assert page.locator("#site-name").is_visible(), path
    # The admin's own stylesheet applies (a style file, not inline): the header has its colour.
    assert page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

    page.goto(f"{base}/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Withdrawals console App API" in page.locator(".swagger-ui .info .title").inner_text()
    shot(page, "10-csp-api-docs")
