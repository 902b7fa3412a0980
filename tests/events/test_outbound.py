"""SSRF guard of the webhook worker (events/outbound.py): scheme, credentials, and the
addresses a receiver's host name may resolve to."""

import pytest

from events.outbound import UnsafeURL, resolve_checked, url_check


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/",
                                 "javascript:alert(1)", "https://user:pw@example.com/hook", "https:///nohost",
                                 "http://example.com/plain-http"])
def test_urls_other_than_https_without_credentials_are_refused(settings, url):
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(UnsafeURL):
        url_check(url)


def test_plain_http_only_when_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    assert url_check("http://example.com/hook") == ("http", "example.com", 80)
    assert url_check("https://example.com:8443/hook") == ("https", "example.com", 8443)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "100.64.0.1",
                                     "169.254.169.254", "0.0.0.0", "::1", "fe80::1", "::ffff:127.0.0.1",
                                     "224.0.0.1", "fd00::1"])
def test_internal_addresses_are_refused(settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(UnsafeURL):
        resolve_checked(address, 443)


def test_a_name_resolving_to_loopback_is_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(UnsafeURL):
        resolve_checked("localhost", 443)


def test_private_networks_when_allowed_but_never_link_local_metadata(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert resolve_checked("127.0.0.1", 80) == "127.0.0.1"
    assert resolve_checked("10.0.0.7", 80) == "10.0.0.7"
    with pytest.raises(UnsafeURL):
        resolve_checked("169.254.169.254", 80)


def test_a_public_address_passes(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert resolve_checked("93.184.215.14", 443) == "93.184.215.14"
