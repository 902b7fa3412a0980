"""The App's address endpoints, end to end: register, prove ownership, list, revoke; errors in the
SPEC shape; nobody reaches another customer's addresses."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.fixtures.factories import CustomerFactory, StaffFactory, btc_network, eth_network, tron_network
from tests.withdrawals.test_addresses_support import (  # noqa: F401 - fixtures
    clock_fixture,
    network_fixture,
    new_signer,
)
from withdrawals.models.addresses import AddressStatusChange, CustomerAddress
from withdrawals.services.addresses import address_create, address_mark_verified

ETH_ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = {"ETH": "0x" + "de" * 20}


@pytest.fixture(autouse=True)
def _networks(db):
    eth_network(), btc_network(), tron_network()


@pytest.fixture
def client(customer) -> APIClient:
    api = APIClient()
    api.force_authenticate(customer.user)
    return api


def url(address_id: int | None = None, action: str = "") -> str:
    if address_id is None:
        return "/api/v1/addresses/"
    return f"/api/v1/addresses/{address_id}/" + (f"{action}/" if action else "")


def assert_error(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "detail", "field"}
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field


def test_register_an_address(client, customer):
    response = client.post(url(), {"network": "ETH", "address": ETH_ADDR.lower(), "label": "Ledger", "memo": ""},
                           format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "network", "address", "label", "status", "usable_from", "memo", "method", "created_at"} <= set(body)
    assert body["network"] == "ETH"
    assert body["address"] == ETH_ADDR
    assert body["status"] == "pending_verification"
    assert body["usable_from"] is None and body["usable"] is False
    assert CustomerAddress.objects.get(pk=body["id"]).customer == customer


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"network": "ETH", "address": TRON_ADDR}, 400, "network_mismatch", "address"),
    ({"network": "ETH", "address": ETH_ADDR + " "}, 400, "invalid_address", "address"),
    ({"network": "ETH", "address": ""}, 400, "invalid_address", "address"),
    ({"network": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"}, 400, "invalid_address", "address"),
    ({"network": "ETH"}, 400, "validation_error", "address"),
    ({"address": ETH_ADDR}, 400, "validation_error", "network"),
    ({"network": "DOGE", "address": ETH_ADDR}, 400, "validation_error", "network"),
    ({"network": "ETH", "address": ETH_ADDR, "label": "x" * 101}, 400, "validation_error", "label"),
], ids=["mismatch", "whitespace", "empty", "bad-checksum", "no-address", "no-network", "unknown-network",
        "long-label"])
def test_register_refusals_change_nothing(client, body, status, code, field):
    assert_error(client.post(url(), body, format="json"), status, code, field)
    assert not CustomerAddress.objects.exists()


def test_register_a_duplicate_is_409(client):
    assert client.post(url(), {"network": "ETH", "address": ETH_ADDR}, format="json").status_code == 201
    assert_error(client.post(url(), {"network": "ETH", "address": ETH_ADDR.lower()}, format="json"),
                 409, "duplicate_address", "address")


def test_the_list_is_mine_newest_first_without_revoked(client, customer, django_assert_max_num_queries):
    first = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    second = address_create(customer=customer, network_code="TRON", address=TRON_ADDR)
    gone = address_create(customer=customer, network_code="ETH", address="0x" + "ab" * 20)
    client.delete(url(gone.pk))
    address_create(customer=CustomerFactory(tenant=customer.tenant), network_code="ETH", address=ETH_ADDR)
    for n in range(5):
        address_create(customer=customer, network_code="ETH", address="0x" + f"{n + 1:040x}")
    with django_assert_max_num_queries(3):
        response = client.get(url())
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()]
    assert ids[-2:] == [second.pk, first.pk]
    assert gone.pk not in ids and len(ids) == 7


def test_unauthenticated_requests_are_401(db):
    assert_error(APIClient().get(url()), 401, "unauthenticated")
    assert_error(APIClient().post(url(), {"network": "ETH", "address": ETH_ADDR}, format="json"), 401,
                 "unauthenticated")


def test_staff_without_a_customer_are_403(db):
    api = APIClient()
    api.force_authenticate(StaffFactory())
    assert_error(api.get(url()), 403, "permission_denied")


# --- nobody reaches another customer's addresses ----------------------------------------------------

def test_another_customers_address_is_404_everywhere_and_untouched(client, customer):
    theirs = address_create(customer=CustomerFactory(tenant=customer.tenant), network_code="ETH", address=ETH_ADDR)
    attempts = [
        client.get(url(theirs.pk)),
        client.delete(url(theirs.pk)),
        client.post(url(theirs.pk, "challenge")),
        client.post(url(theirs.pk, "verify"), {"method": "micropayment"}, format="json"),
        client.post(url(theirs.pk, "verify"), {"method": "signature", "nonce": "n", "signature": "0x00"},
                    format="json"),
        client.post(url(theirs.pk, "verify"), {"method": "evidence", "file": _png()}, format="multipart"),
        client.get(url(10**9)),
    ]
    for response in attempts:
        assert_error(response, 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.status == "pending_verification" and not theirs.challenges.exists()
    assert theirs.micropayment_amount is None and not theirs.evidence
    assert AddressStatusChange.objects.filter(address=theirs).count() == 1


# --- ownership proofs through the API ------------------------------------------------------------------

def test_challenge_then_signature_verifies(client, customer, network, settings):
    signer = new_signer(network)
    created = client.post(url(), {"network": network.code, "address": signer.address}, format="json").json()

    response = client.post(url(created["id"], "challenge"))
    assert response.status_code == 201, response.content
    challenge = response.json()
    assert set(challenge) == {"nonce", "message", "expires_at"}

    forged = new_signer(network).sign(challenge["message"])
    assert_error(client.post(url(created["id"], "verify"), {"method": "signature", "nonce": challenge["nonce"],
                                                            "signature": forged}, format="json"),
                 400, "invalid_signature", "signature")

    signature = signer.sign(challenge["message"])
    response = client.post(url(created["id"], "verify"),
                           {"method": "signature", "nonce": challenge["nonce"], "signature": signature}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["method"], body["usable"]) == ("verified", "signature", False)
    assert body["usable_from"] is not None

    assert_error(client.post(url(created["id"], "verify"), {"method": "signature", "nonce": challenge["nonce"],
                                                            "signature": signature}, format="json"),
                 409, "challenge_used", "nonce")


def test_an_expired_challenge_is_refused_through_the_api(client, clock, settings):
    signer = new_signer(eth_network())
    created = client.post(url(), {"network": "ETH", "address": signer.address}, format="json").json()
    challenge = client.post(url(created["id"], "challenge")).json()
    clock.shift(seconds=settings.ADDRESS_CHALLENGE_TTL.total_seconds() + 1)
    assert_error(client.post(url(created["id"], "verify"), {"method": "signature", "nonce": challenge["nonce"],
                                                            "signature": signer.sign(challenge["message"])},
                             format="json"), 400, "challenge_expired")
    assert client.get(url(created["id"])).json()["status"] == "pending_verification"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "method"), ({"method": "telepathy"}, "method"), ({"method": "signature", "nonce": "abc"}, "signature"),
    ({"method": "signature", "signature": "0x00"}, "nonce"), ({"method": "evidence"}, "file"),
])
def test_verify_needs_the_fields_of_its_method(client, customer, body, field):
    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    assert_error(client.post(url(address.pk, "verify"), body, format="json"), 400, "validation_error", field)


def test_micropayment_states_amount_and_deposit_address(client, customer):
    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    response = client.post(url(address.pk, "verify"), {"method": "micropayment"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "pending_verification"
    micropayment = body["micropayment"]
    assert micropayment["to_address"] == "0x" + "de" * 20 and micropayment["currency"] == "ETH"
    assert isinstance(micropayment["amount"], str) and "e" not in micropayment["amount"].lower()
    again = client.post(url(address.pk, "verify"), {"method": "micropayment"}, format="json").json()
    assert again["micropayment"] == micropayment


def _png(name: str = "account.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")


def test_evidence_upload_puts_the_address_up_for_review(client, customer):
    from approvals.selectors import work_order_for_subject

    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    response = client.post(url(address.pk, "verify"), {"method": "evidence", "file": _png()}, format="multipart")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["method"]) == ("pending_review", "evidence")
    work_order = work_order_for_subject(address)
    assert (work_order.type, work_order.status, work_order.maker) == ("atm.va.address_verify", "open", customer.user)
    assert_error(client.post(url(address.pk, "verify"), {"method": "evidence", "file": _png()}, format="multipart"),
                 409, "invalid_transition")


def test_evidence_of_the_wrong_kind_is_refused(client, customer):
    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    bad = SimpleUploadedFile("run.exe", b"MZ" + b"0" * 10)
    assert_error(client.post(url(address.pk, "verify"), {"method": "evidence", "file": bad}, format="multipart"),
                 400, "validation_error", "file")
    assert client.get(url(address.pk)).json()["status"] == "pending_verification"


# --- revoking ---------------------------------------------------------------------------------------

def test_delete_revokes_and_keeps_the_history(client, customer, clock):
    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    address_mark_verified(address=address, actor=StaffFactory(), method="evidence")
    response = client.delete(url(address.pk))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert client.get(url(address.pk)).json()["status"] == "revoked"
    assert list(address.history.values_list("to_status", flat=True)) == [
        "pending_verification", "verified", "revoked"]
    assert client.delete(url(address.pk)).status_code == 200  # again: nothing new
    assert address.history.count() == 3
    assert_error(client.post(url(address.pk, "challenge")), 409, "invalid_transition")


def test_cool_down_shows_in_the_api(client, customer, clock, settings):
    address = address_create(customer=customer, network_code="ETH", address=ETH_ADDR)
    address_mark_verified(address=address, actor=StaffFactory(), method="evidence")
    assert client.get(url(address.pk)).json()["usable"] is False
    clock.shift(seconds=settings.ADDRESS_COOLDOWN.total_seconds() + 1)
    assert client.get(url(address.pk)).json()["usable"] is True


# --- documented ---------------------------------------------------------------------------------------

def test_the_endpoints_are_in_the_openapi_schema(client):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content[:500]
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/addresses/"])
    assert {"get", "delete"} <= set(paths["/api/v1/addresses/{address_id}/"])
    verify = paths["/api/v1/addresses/{address_id}/verify/"]["post"]
    assert {"application/json", "multipart/form-data"} <= set(verify["requestBody"]["content"])
    assert {"200", "400", "404", "409"} <= set(verify["responses"])
    assert "post" in paths["/api/v1/addresses/{address_id}/challenge/"]
    assert "409" in paths["/api/v1/addresses/"]["post"]["responses"]
