"""The App's P2P endpoints: the guide's own case end to end, each side seeing only its trades,
refusals in the error shape, and the operations in the OpenAPI schema."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from ledger.models import JournalEntry
from ledger.selectors import account_balance, ledger_check
from tests.p2p.conftest import named_customer, proof


def client_for(customer) -> APIClient:
    client = APIClient()
    client.force_authenticate(customer.user)
    return client


@pytest.fixture
def seller_api(market):
    return client_for(market.seller)


@pytest.fixture
def buyer_api(market):
    return client_for(market.buyer)


def offer_body(market, **overrides):
    body = {"currency": "USDT", "fiat": "HKD", "price": "7.82", "total_amount": "5000", "min_trade": "100",
            "max_trade": "5000", "payment_method_ids": [market.account.pk]}
    body.update(overrides)
    return body


def test_the_guides_case_5000_usdt_sold_for_hkd_paid_confirmed_released(market, seller_api, buyer_api):
    """Xiao Ming sells 5,000 U for HKD: the platform locks the coins, the buyer pays by bank
    transfer, Xiao Ming checks his own bank, confirms receipt and releases."""
    offer = seller_api.post("/api/v1/p2p/offers/", offer_body(market), format="json")
    assert offer.status_code == 201, offer.json()
    offer_id = offer.json()["id"]
    market_list = buyer_api.get("/api/v1/p2p/offers/", {"currency": "USDT", "fiat": "HKD"}).json()
    assert [o["id"] for o in market_list["results"]] == [offer_id]

    taken = buyer_api.post("/api/v1/p2p/trades/", {"offer_id": offer_id, "amount": "5000"}, format="json")
    assert taken.status_code == 201, taken.json()
    trade = taken.json()
    assert trade["status"] == "open" and trade["side"] == "buyer" and trade["version"] == 1
    assert trade["fiat_amount"] == "39100" and trade["escrow_amount"] == "5005"  # fee 5 USDT, paid by the seller
    assert trade["pay_to"]["account_number"] == "123456789012" and trade["pay_to"]["holder_name"] == "MING Xiao"
    # the coins are locked: 4,000 from USDTHKD (largest) and 1,005 from USDTUSD
    assert account_balance(customer=market.seller, currency="USDT", kind="customer_held",
                           instrument="VA/HAS/USDTUSD") == Decimal("1005")

    release_early = seller_api.post(f"/api/v1/p2p/trades/{trade['id']}/release/",
                                    {"version": 1, "otp": market.otp()}, format="json")
    assert release_early.status_code == 409 and release_early.json()["code"] == "not_paid_yet"

    paid = buyer_api.post(f"/api/v1/p2p/trades/{trade['id']}/paid/",
                          {"version": 1, "payer_name": "Chan Tai Man", "payer_account": "HSBC 004-987654-321",
                           "proof": proof()}, format="multipart")
    assert paid.status_code == 200, paid.json()
    assert paid.json()["status"] == "buyer_paid" and paid.json()["version"] == 2

    seen_by_seller = seller_api.get(f"/api/v1/p2p/trades/{trade['id']}/").json()
    assert seen_by_seller["side"] == "seller" and seen_by_seller["pay_to"] is None
    assert seen_by_seller["payer_name"] == "Chan Tai Man"

    released = seller_api.post(f"/api/v1/p2p/trades/{trade['id']}/release/",
                               {"version": 2, "otp": market.otp()}, format="json")
    assert released.status_code == 200, released.json()
    body = released.json()
    assert body["status"] == "released" and body["version"] == 3
    assert [(h["from"], h["to"]) for h in body["history"]] == [(None, "open"), ("open", "buyer_paid"),
                                                               ("buyer_paid", "released")]
    assert account_balance(customer=market.buyer, currency="USDT", kind="customer_available",
                           instrument="VA/HAS/USDTHKD") == Decimal("5000")
    entry = JournalEntry.objects.get(reference=f"p2p:trade:{trade['id']}:release")
    assert entry.request["amount"] == "5000" and entry.request["price"] == "7.82"
    assert not JournalEntry.objects.filter(kind="settle").exists()  # no chain transaction
    assert buyer_api.get("/api/v1/p2p/offers/").json()["results"] == []  # nothing left
    assert ledger_check() == []


def test_each_side_sees_only_its_own_trades(market, seller_api, buyer_api):
    trade = market.take(market.offer())
    stranger = client_for(named_customer("Some", "One"))
    assert stranger.get(f"/api/v1/p2p/trades/{trade.pk}/").status_code == 404
    assert stranger.get("/api/v1/p2p/trades/").json()["count"] == 0
    moved = stranger.post(f"/api/v1/p2p/trades/{trade.pk}/cancel/", {"version": 1}, format="json")
    assert moved.status_code == 404 and moved.json()["code"] == "not_found"
    assert buyer_api.get("/api/v1/p2p/trades/", {"side": "buyer"}).json()["count"] == 1
    assert seller_api.get("/api/v1/p2p/trades/", {"side": "buyer"}).json()["count"] == 0


@pytest.mark.parametrize("query", ["side=", "side=both", "mine=", "mine=perhaps"])
def test_a_list_filter_outside_the_schema_is_refused_not_ignored(market, buyer_api, query):
    """The schema allows side = buyer | seller and mine = a boolean: an empty or other value is a
    validation error (found by schemathesis against gunicorn: `?side=` listed every trade)."""
    path = "/api/v1/p2p/offers/" if query.startswith("mine") else "/api/v1/p2p/trades/"
    response = buyer_api.get(f"{path}?{query}")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


def test_a_stale_version_answers_trade_state_changed(market, buyer_api):
    trade = market.paid(market.take(market.offer()))
    response = buyer_api.post(f"/api/v1/p2p/trades/{trade.pk}/unpaid/", {"version": 1}, format="json")
    assert response.status_code == 409
    assert response.json() == {"code": "trade_state_changed", "detail": response.json()["detail"], "field": "version"}


def test_refusals_come_in_the_error_shape(market, buyer_api):
    trade = market.take(market.offer())
    wrong_name = buyer_api.post(f"/api/v1/p2p/trades/{trade.pk}/paid/",
                                {"version": 1, "payer_name": "Someone Else", "payer_account": "1", "proof": proof()},
                                format="multipart")
    assert wrong_name.status_code == 400 and wrong_name.json()["code"] == "payer_name_mismatch"
    early = buyer_api.post(f"/api/v1/p2p/trades/{trade.pk}/appeal/", {"version": 1, "reason": "x"}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "appeal_too_early"
    missing = buyer_api.post(f"/api/v1/p2p/trades/{trade.pk}/cancel/", {}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "version"


def test_offers_are_paused_resumed_and_withdrawn_by_their_seller(market, seller_api, buyer_api):
    offer = market.offer()
    assert seller_api.post(f"/api/v1/p2p/offers/{offer.pk}/pause/").json()["status"] == "paused"
    assert buyer_api.get(f"/api/v1/p2p/offers/{offer.pk}/").status_code == 404
    assert buyer_api.post(f"/api/v1/p2p/offers/{offer.pk}/withdraw/").status_code == 404
    assert seller_api.post(f"/api/v1/p2p/offers/{offer.pk}/resume/").json()["status"] == "active"
    assert seller_api.post(f"/api/v1/p2p/offers/{offer.pk}/withdraw/").json()["status"] == "withdrawn"
    assert seller_api.get("/api/v1/p2p/offers/", {"mine": "true"}).json()["count"] == 1


def test_the_p2p_operations_are_in_the_openapi_schema(db, client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = [p for p in schema["paths"] if p.startswith("/api/v1/p2p/")]
    assert "/api/v1/p2p/trades/{trade_id}/release/" in paths and "/api/v1/p2p/offers/" in paths
    release = schema["paths"]["/api/v1/p2p/trades/{trade_id}/release/"]["post"]
    assert "not_paid_yet" in release["responses"]["409"]["description"]
    assert "trade_state_changed" in release["responses"]["409"]["description"]
