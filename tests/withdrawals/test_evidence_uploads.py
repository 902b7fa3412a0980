"""Evidence uploads: the size is capped before the body is read, the content is sniffed (PDF,
PNG, JPEG only, matching the name), and staff download it as an attachment that no browser
renders or sniffs."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.fixtures.factories import StaffFactory, eth_network
from tests.fixtures.staff import login_verified_staff
from withdrawals.models.addresses import CustomerAddress
from withdrawals.services.addresses import address_create

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"\x00" * 100
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.EVIDENCE_MAX_BYTES = 1024 * 1024


@pytest.fixture
def address(customer):
    eth_network()
    return address_create(customer=customer, network_code="ETH", address="0x" + "44" * 20)


@pytest.fixture
def app(customer) -> APIClient:
    api = APIClient()
    api.force_authenticate(customer.user)
    return api


def verify_url(address) -> str:
    return f"/api/v1/addresses/{address.pk}/verify/"


def refused(response, field: str = "file") -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["code"], body["field"]) == ("validation_error", field), body
    return body


def status_of(address) -> str:
    return CustomerAddress.objects.get(pk=address.pk).status


@pytest.mark.parametrize("name, content", [("statement.pdf", PDF), ("screen.png", PNG), ("photo.jpg", JPEG),
                                           ("photo.JPEG", JPEG)])
def test_pdf_png_and_jpeg_are_accepted(app, address, name, content):
    response = app.post(verify_url(address), {"method": "evidence", "file": SimpleUploadedFile(name, content)},
                        format="multipart")
    assert response.status_code == 200, response.content
    assert status_of(address) == "pending_review"


@pytest.mark.parametrize("name, content", [
    ("statement.pdf", HTML),  # HTML with a .pdf name
    ("screen.png", JPEG),  # content and name disagree
    ("screen.png", b"GIF89a" + b"\x00" * 20),
    ("photo.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 "),  # not offered any more
    ("page.html", HTML),
])
def test_other_content_is_refused_whatever_its_name(app, address, name, content):
    refused(app.post(verify_url(address), {"method": "evidence", "file": SimpleUploadedFile(name, content)},
                     format="multipart"))
    assert status_of(address) == "pending_verification" and not CustomerAddress.objects.get(pk=address.pk).evidence


def test_a_file_over_the_limit_is_refused(app, address, settings):
    big = SimpleUploadedFile("big.png", PNG + b"\x00" * settings.EVIDENCE_MAX_BYTES)
    body = refused(app.post(verify_url(address), {"method": "evidence", "file": big}, format="multipart"))
    assert "1 MiB" in body["detail"]
    assert status_of(address) == "pending_verification"


def test_a_declared_oversized_body_is_refused_before_it_is_read(app, address, settings):
    """The body is 200 bytes but says it is 2 MiB: reading it would fail (the test payload cannot
    give more than it has), so a clean refusal proves nothing read it."""
    boundary = "BOUNDARY"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nevidence\r\n"
            f"--{boundary}--\r\n").encode()
    response = app.generic("POST", verify_url(address), body, content_type=f"multipart/form-data; boundary={boundary}",
                           CONTENT_LENGTH=str(2 * settings.EVIDENCE_MAX_BYTES))
    refused(response)
    assert status_of(address) == "pending_verification"


def test_upload_memory_limits_are_set(settings):
    from django.conf import settings as live

    assert live.FILE_UPLOAD_MAX_MEMORY_SIZE <= 2_621_440  # bigger uploads stream to a temporary file
    assert live.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2_621_440


def test_staff_download_evidence_as_an_attachment_never_sniffed(app, address, client):
    app.post(verify_url(address), {"method": "evidence", "file": SimpleUploadedFile("statement.pdf", PDF)},
             format="multipart")
    login_verified_staff(client, StaffFactory(is_superuser=True))
    response = client.get(f"/admin/withdrawals/customeraddress/{address.pk}/evidence/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF
