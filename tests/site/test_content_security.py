"""Every page sends a strict Content-Security-Policy and no page loads anything from another host:
the Swagger UI comes from drf-spectacular-sidecar, its init script from its own URL."""

import re

import pytest

STRICT = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'")
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)


def assert_strict(response) -> None:
    policy = response["Content-Security-Policy"]
    for directive in STRICT:
        assert directive in policy, policy
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src and "http" not in script_src


@pytest.mark.django_db
def test_the_admin_login_is_strict_and_runs_no_inline_script(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_strict(response)
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not EXTERNAL.search(html)


@pytest.mark.django_db
def test_an_admin_page_of_a_signed_in_user_is_strict_and_runs_no_inline_script(admin_client):
    response = admin_client.get("/admin/withdrawals/withdrawalorder/")
    assert response.status_code == 200
    assert_strict(response)
    assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_another_host(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert_strict(response)
    html = response.content.decode()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert not INLINE_SCRIPT.search(html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in s for s in scripts), scripts
    init = next(s for s in scripts if "script=" in s).replace("&amp;", "&")
    script = client.get(init)
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert "//cdn" not in script.content.decode()
    assert '"validatorUrl": null' in script.content.decode()  # no badge from validator.swagger.io


@pytest.mark.django_db
def test_an_api_response_carries_the_policy(client):
    response = client.get("/api/v1/coins/")
    assert response.status_code == 401
    assert_strict(response)


def test_the_sidecar_files_are_served_from_here(client, settings):
    settings.WHITENOISE_USE_FINDERS = True  # without collectstatic in the test run
    from django.contrib.staticfiles import finders

    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
