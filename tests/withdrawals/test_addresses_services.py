"""The address book's services: ownership proven by real signatures, micropayment or reviewed
evidence; every move audited; refusals change nothing; a cool-down before use."""

from __future__ import annotations

import sys
import types
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import DomainError
from tests.fixtures.factories import CustomerFactory, StaffFactory, eth_network, tron_network
from tests.withdrawals.test_addresses_support import (  # noqa: F401 - fixtures
    clock_fixture,
    network_fixture,
    new_signer,
)
from withdrawals.models.addresses import AddressChallenge, AddressStatusChange, CustomerAddress
from withdrawals.selectors.addresses import address_get_usable
from withdrawals.services.addresses import (
    address_challenge_issue,
    address_create,
    address_mark_verified,
    address_micropayment_expect,
    address_micropayment_seen,
    address_reject,
    address_revoke,
    address_submit_evidence,
    address_verify_signature,
)

Status = CustomerAddress.Status
DEPOSIT = {"ETH": "0x" + "de" * 20, "BTC": "blt1qtp7fhly84qm6q4hhzmp0nh5frtdugmyskz45t9",
           "TRON": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # factories set passwords
    settings.MEDIA_ROOT = tmp_path
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = DEPOSIT


@pytest.fixture
def staff(db):
    return StaffFactory()


def register(customer, network, address: str | None = None) -> tuple[CustomerAddress, object]:
    signer = new_signer(network)
    entry = address_create(customer=customer, network_code=network.code, address=address or signer.address,
                           label="cold wallet")
    return entry, signer


def moves(address) -> list[tuple[str, str]]:
    return list(AddressStatusChange.objects.filter(address=address).values_list("from_status", "to_status"))


def snapshot(address) -> tuple:
    address.refresh_from_db()
    challenges = list(AddressChallenge.objects.filter(address=address).values_list("nonce", "used_at"))
    return (address.status, address.verification_method, address.verified_at, address.usable_from,
            len(moves(address)), challenges)


def refused(code: str, call, *, status: int | None = None) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code, caught.value.detail
    if status is not None:
        assert caught.value.status == status
    return caught.value


# --- registering ------------------------------------------------------------------------------

def test_a_registered_address_is_stored_canonical_and_pending(customer):
    eth_network()
    address = address_create(customer=customer, network_code="ETH",
                             address="0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", label=" cold ")
    assert eth_network() == address.network
    assert address.address == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert address.label == "cold"
    assert address.status == Status.PENDING_VERIFICATION
    assert address.usable_from is None
    history = address.history.get()
    assert (history.from_status, history.to_status, history.actor) == ("", Status.PENDING_VERIFICATION, customer.user)


def test_the_same_address_twice_on_a_network_is_a_duplicate_in_any_spelling(customer):
    eth_network()
    address_create(customer=customer, network_code="ETH", address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    error = refused("duplicate_address", lambda: address_create(
        customer=customer, network_code="ETH", address="0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), status=409)
    assert error.field == "address"
    assert CustomerAddress.objects.count() == 1


def test_another_customer_may_register_the_same_address(customer):
    eth_network()
    address_create(customer=customer, network_code="ETH", address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    address_create(customer=CustomerFactory(tenant=customer.tenant), network_code="ETH",
                   address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert CustomerAddress.objects.count() == 2


def test_a_revoked_address_may_be_registered_again_and_keeps_its_history(customer, network):
    first, signer = register(customer, network)
    address_revoke(address=first, actor=customer.user)
    again = address_create(customer=customer, network_code=network.code, address=signer.address)
    assert again.pk != first.pk
    assert moves(first) == [("", "pending_verification"), ("pending_verification", "revoked")]


def test_a_rejected_address_cannot_be_registered_again(customer, staff):
    address, signer = register(customer, eth_network())
    address_reject(address=address, actor=staff, reason="Sanctioned")
    refused("duplicate_address", lambda: address_create(customer=customer, network_code="ETH",
                                                        address=signer.address), status=409)
    assert CustomerAddress.objects.filter(customer=customer).count() == 1


def test_wrong_network_and_unknown_network_are_refused(customer):
    eth_network(), tron_network()
    refused("network_mismatch", lambda: address_create(customer=customer, network_code="ETH",
                                                       address="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"))
    refused("invalid_address", lambda: address_create(customer=customer, network_code="TRON", address=" "))
    error = refused("validation_error", lambda: address_create(customer=customer, network_code="DOGE",
                                                               address="D" * 34))
    assert error.field == "network"
    assert not CustomerAddress.objects.exists()


# --- proof (a): signatures --------------------------------------------------------------------

def test_a_real_signature_verifies_the_address(customer, network, settings):
    address, signer = register(customer, network)
    challenge = address_challenge_issue(address=address)
    assert customer.reference in challenge.message and address.address in challenge.message
    assert challenge.nonce in challenge.message
    assert challenge.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") in challenge.message

    verified = address_verify_signature(address=address, nonce=challenge.nonce,
                                        signature=signer.sign(challenge.message))

    assert verified.status == Status.VERIFIED
    assert verified.verification_method == CustomerAddress.Method.SIGNATURE
    assert verified.usable_from == verified.verified_at + settings.ADDRESS_COOLDOWN
    challenge.refresh_from_db()
    assert challenge.used_at is not None
    last = verified.history.last()
    assert (last.from_status, last.to_status, last.actor) == ("pending_verification", "verified", customer.user)


def test_a_signature_by_another_key_is_refused_and_changes_nothing(customer, network):
    address, _ = register(customer, network)
    challenge = address_challenge_issue(address=address)
    forger = new_signer(network)
    before = snapshot(address)
    error = refused("invalid_signature", lambda: address_verify_signature(
        address=address, nonce=challenge.nonce, signature=forger.sign(challenge.message)), status=400)
    assert error.field == "signature"
    assert snapshot(address) == before


def test_a_signature_of_another_message_is_refused(customer, network):
    address, signer = register(customer, network)
    challenge = address_challenge_issue(address=address)
    before = snapshot(address)
    refused("invalid_signature", lambda: address_verify_signature(
        address=address, nonce=challenge.nonce, signature=signer.sign(challenge.message.replace("Nonce", "nonce"))))
    assert snapshot(address) == before


def test_a_signature_for_another_address_of_the_customer_is_refused(customer, network):
    mine, my_key = register(customer, network)
    other, _ = register(customer, network)
    theirs = address_challenge_issue(address=other)
    signed_by_mine = my_key.sign(theirs.message)
    before = snapshot(other), snapshot(mine)
    # The signature over the other address's challenge is not by the other address's key ...
    refused("invalid_signature", lambda: address_verify_signature(
        address=other, nonce=theirs.nonce, signature=signed_by_mine))
    # ... and a challenge of one address does not verify another.
    error = refused("invalid_signature", lambda: address_verify_signature(
        address=mine, nonce=theirs.nonce, signature=signed_by_mine))
    assert error.field == "nonce"
    assert (snapshot(other), snapshot(mine)) == before


def test_an_expired_challenge_is_refused(customer, network, clock, settings):
    address, signer = register(customer, network)
    challenge = address_challenge_issue(address=address)
    signature = signer.sign(challenge.message)
    clock.shift(seconds=settings.ADDRESS_CHALLENGE_TTL.total_seconds() + 1)
    before = snapshot(address)
    refused("challenge_expired", lambda: address_verify_signature(
        address=address, nonce=challenge.nonce, signature=signature), status=400)
    assert snapshot(address) == before


def test_a_replayed_signature_is_refused(customer, network):
    address, signer = register(customer, network)
    challenge = address_challenge_issue(address=address)
    signature = signer.sign(challenge.message)
    address_verify_signature(address=address, nonce=challenge.nonce, signature=signature)
    before = snapshot(address)
    refused("challenge_used", lambda: address_verify_signature(
        address=address, nonce=challenge.nonce, signature=signature), status=409)
    assert snapshot(address) == before


@pytest.mark.parametrize("signature", ["", "0x", "0x" + "00" * 65, "zz" * 65, "AAAA", "x" * 5000])
def test_malformed_signatures_are_refused(customer, signature):
    address, _ = register(customer, eth_network())
    challenge = address_challenge_issue(address=address)
    refused("invalid_signature", lambda: address_verify_signature(
        address=address, nonce=challenge.nonce, signature=signature))
    assert snapshot(address)[0] == Status.PENDING_VERIFICATION


def test_no_challenge_for_a_decided_address(customer, staff):
    address, _ = register(customer, eth_network())
    address_reject(address=address, actor=staff, reason="Sanctioned address")
    refused("invalid_transition", lambda: address_challenge_issue(address=address), status=409)


# --- proof (b): micropayment ------------------------------------------------------------------

def test_a_micropayment_is_stated_once_and_verifies_when_seen(customer, network, staff):
    address, _ = register(customer, network)
    expected = address_micropayment_expect(address=address)
    assert expected.status == Status.PENDING_VERIFICATION
    assert expected.micropayment_to == DEPOSIT[network.code]
    assert Decimal("0") < expected.micropayment_amount < Decimal("0.01")
    assert address_micropayment_expect(address=address).micropayment_amount == expected.micropayment_amount

    before = snapshot(address)
    refused("micropayment_mismatch", lambda: address_micropayment_seen(
        address=address, actor=staff, tx_hash="0xabc", amount=expected.micropayment_amount + 1))
    assert snapshot(address) == before

    seen = address_micropayment_seen(address=address, actor=staff, tx_hash="0xabc",
                                     amount=expected.micropayment_amount)
    assert (seen.status, seen.verification_method, seen.micropayment_tx_hash) == ("verified", "micropayment", "0xabc")
    assert seen.history.last().actor == staff
    # Seen again (a task re-scanning): nothing new.
    address_micropayment_seen(address=address, actor=staff, tx_hash="0xabc")
    assert len(moves(address)) == 2


def test_a_micropayment_not_asked_for_cannot_be_seen(customer, staff):
    address, _ = register(customer, eth_network())
    refused("micropayment_not_expected", lambda: address_micropayment_seen(address=address, actor=staff,
                                                                           tx_hash="0x1"), status=409)


def test_no_micropayment_without_a_deposit_address(customer, settings):
    settings.ADDRESS_MICROPAYMENT_DEPOSIT_ADDRESSES = {}
    address, _ = register(customer, eth_network())
    refused("micropayment_unavailable", lambda: address_micropayment_expect(address=address), status=409)
    assert snapshot(address)[0] == Status.PENDING_VERIFICATION


# --- proof (c): evidence and review -------------------------------------------------------------

def screenshot(name: str = "exchange.png", size: int = 64) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"\x89PNG\r\n\x1a\n" + b"0" * size, content_type="image/png")


@pytest.fixture
def work_orders(monkeypatch) -> list[dict]:
    """The approvals engine's work_order_open, recorded (the engine is tested on its own)."""
    opened: list[dict] = []
    monkeypatch.setattr("withdrawals.services.addresses.work_order_open",
                        lambda **kwargs: opened.append(kwargs) or types.SimpleNamespace(pk=len(opened)))
    return opened


def test_evidence_puts_the_address_up_for_review_with_a_work_order(customer, work_orders):
    address, _ = register(customer, eth_network())
    submitted = address_submit_evidence(address=address, file=screenshot())
    assert submitted.status == Status.PENDING_REVIEW
    assert submitted.verification_method == "evidence"
    assert submitted.evidence.name.endswith(".png")
    assert moves(address)[-1] == ("pending_verification", "pending_review")
    [opened] = work_orders
    assert opened["type"] == "atm.va.address_verify"
    assert opened["subject"].pk == address.pk
    assert opened["maker"] == customer.user
    assert opened["context"]["address"] == address.address


def test_without_the_approvals_engine_evidence_waits_in_the_review_queue(customer, monkeypatch):
    monkeypatch.setitem(sys.modules, "approvals.services", None)  # import fails
    address, _ = register(customer, eth_network())
    assert address_submit_evidence(address=address, file=screenshot()).status == Status.PENDING_REVIEW


@pytest.mark.parametrize("upload", [screenshot("notes.txt"), screenshot("big.png", size=11 * 2**20),
                                    SimpleUploadedFile("empty.png", b"")])
def test_unacceptable_evidence_is_refused(customer, upload, work_orders):
    address, _ = register(customer, eth_network())
    error = refused("validation_error", lambda: address_submit_evidence(address=address, file=upload))
    assert error.field == "file"
    assert snapshot(address)[0] == Status.PENDING_VERIFICATION and not work_orders


def test_staff_approve_reviewed_evidence(customer, staff, work_orders, settings):
    address, _ = register(customer, eth_network())
    address_submit_evidence(address=address, file=screenshot())
    verified = address_mark_verified(address=address, actor=staff, method="evidence", reason="Matches the account")
    assert (verified.status, verified.verification_method) == ("verified", "evidence")
    assert verified.usable_from == verified.verified_at + settings.ADDRESS_COOLDOWN
    last = verified.history.last()
    assert (last.from_status, last.to_status, last.actor, last.reason) == (
        "pending_review", "verified", staff, "Matches the account")
    # Decided twice (e.g. the engine's callback after an admin approval): nothing new.
    address_mark_verified(address=address, actor=staff, method="evidence")
    assert len(moves(address)) == 3


def test_staff_reject_with_a_reason(customer, staff, work_orders):
    address, _ = register(customer, eth_network())
    address_submit_evidence(address=address, file=screenshot())
    refused("validation_error", lambda: address_reject(address=address, actor=staff, reason="  "))
    rejected = address_reject(address=address, actor=staff, reason="Screenshot does not show the address")
    assert (rejected.status, rejected.reason) == ("rejected", "Screenshot does not show the address")
    assert moves(address)[-1] == ("pending_review", "rejected")
    refused("invalid_transition", lambda: address_mark_verified(address=address, actor=staff, method="evidence"))
    refused("invalid_transition", lambda: address_revoke(address=address, actor=customer.user), status=409)


def test_an_unknown_method_is_refused(customer, staff):
    address, _ = register(customer, eth_network())
    refused("validation_error", lambda: address_mark_verified(address=address, actor=staff, method="vibes"))


# --- every move is audited ------------------------------------------------------------------------

def test_every_move_writes_its_history_row(customer, staff, work_orders):
    eth = eth_network()
    address, signer = register(customer, eth)
    challenge = address_challenge_issue(address=address)
    address_verify_signature(address=address, nonce=challenge.nonce, signature=signer.sign(challenge.message))
    address_revoke(address=address, actor=customer.user, reason="Lost the key")

    reviewed, _ = register(customer, eth)
    address_submit_evidence(address=reviewed, file=screenshot())
    address_mark_verified(address=reviewed, actor=staff, method="evidence", reason="ok")

    rejected, _ = register(customer, eth)
    address_reject(address=rejected, actor=staff, reason="no")

    paid, _ = register(customer, eth)
    address_micropayment_expect(address=paid)
    address_micropayment_seen(address=paid, actor=staff, tx_hash="0x1")

    rows = AddressStatusChange.objects.order_by("id").values_list("address_id", "from_status", "to_status", "actor_id")
    assert list(rows) == [
        (address.pk, "", "pending_verification", customer.user.pk),
        (address.pk, "pending_verification", "verified", customer.user.pk),
        (address.pk, "verified", "revoked", customer.user.pk),
        (reviewed.pk, "", "pending_verification", customer.user.pk),
        (reviewed.pk, "pending_verification", "pending_review", customer.user.pk),
        (reviewed.pk, "pending_review", "verified", staff.pk),
        (rejected.pk, "", "pending_verification", customer.user.pk),
        (rejected.pk, "pending_verification", "rejected", staff.pk),
        (paid.pk, "", "pending_verification", customer.user.pk),
        (paid.pk, "pending_verification", "verified", staff.pk),
    ]
    # The row agrees with the address it describes.
    for entry in CustomerAddress.objects.all():
        assert entry.history.last().to_status == entry.status


# --- use by a withdrawal: verified, on the network, past the cool-down ----------------------------

@pytest.fixture
def verified(customer, staff):
    address, _ = register(customer, eth_network())
    return address_mark_verified(address=address, actor=staff, method="evidence", reason="ok")


def test_a_verified_address_waits_for_its_cool_down(customer, verified, clock, settings):
    eth = verified.network
    error = refused("address_cooling_down", lambda: address_get_usable(
        customer=customer, address_id=verified.pk, network=eth))
    assert verified.usable_from.isoformat() in error.detail
    clock.shift(seconds=settings.ADDRESS_COOLDOWN.total_seconds() - 60)
    refused("address_cooling_down", lambda: address_get_usable(customer=customer, address_id=verified.pk,
                                                               network=eth))
    clock.shift(seconds=61)
    assert address_get_usable(customer=customer, address_id=verified.pk, network=eth) == verified


def test_the_cool_down_is_configurable(customer, staff, settings):
    from datetime import timedelta

    settings.ADDRESS_COOLDOWN = timedelta(0)
    address, _ = register(customer, eth_network())
    address_mark_verified(address=address, actor=staff, method="evidence")
    assert address_get_usable(customer=customer, address_id=address.pk, network=address.network).pk == address.pk


def test_usable_refuses_the_wrong_customer_network_or_state(customer, verified, clock, staff):
    clock.shift(days=2)
    eth = verified.network
    stranger = CustomerFactory(tenant=customer.tenant)
    refused("not_found", lambda: address_get_usable(customer=stranger, address_id=verified.pk, network=eth),
            status=404)
    refused("not_found", lambda: address_get_usable(customer=customer, address_id=10**9, network=eth))
    refused("network_mismatch", lambda: address_get_usable(customer=customer, address_id=verified.pk,
                                                           network=tron_network()))
    pending, _ = register(customer, eth)
    refused("address_not_verified", lambda: address_get_usable(customer=customer, address_id=pending.pk,
                                                               network=eth))
    address_reject(address=pending, actor=staff, reason="no")
    refused("address_not_verified", lambda: address_get_usable(customer=customer, address_id=pending.pk,
                                                               network=eth))
    address_revoke(address=verified, actor=customer.user)
    refused("not_found", lambda: address_get_usable(customer=customer, address_id=verified.pk, network=eth))
