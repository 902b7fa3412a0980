"""The App's withdrawal request: every refusal changes nothing; success holds and opens a WBO."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import WorkOrder
from ledger.selectors import customer_balances, ledger_check
from tests.fixtures.factories import AddressFactory, CoinFactory, CurrencyFactory, NetworkFactory, btc_network
from withdrawals.models import IdempotencyRecord, WithdrawalOrder

pytestmark = pytest.mark.django_db


def snapshot(customer):
    return (WithdrawalOrder.objects.count(), IdempotencyRecord.objects.count(), WorkOrder.objects.count(),
            customer_balances(customer=customer))


def assert_refused(response, code, status, before, customer, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "detail", "field"}
    if field:
        assert body["field"] == field
    assert snapshot(customer) == before, "a refused request changed something"


def test_request_holds_amount_and_fee_largest_instrument_first_and_opens_work_order(wallet):
    response = wallet.request(amount="1.2")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "pending_approval"
    assert order["amount"] == "1.2" and order["customer_fee"] == "0.0005"
    # 1.2005 from ETHUSD 1.0 (largest first), then 0.2005 from ETHHKD.
    assert order["split"] == [{"instrument": "VA/HAS/ETHUSD", "amount": "1"},
                              {"instrument": "VA/HAS/ETHHKD", "amount": "0.2005"}]
    assert [(h["from"], h["to"]) for h in order["history"]] == [(None, "pending_approval")]
    assert order["network_fee_estimate"] == "0.00042"
    assert WorkOrder.objects.filter(type="atm.va.coin_withdraw_apply", object_id=order["id"]).count() == 1
    (eth,) = customer_balances(customer=wallet.customer)
    assert eth["available"] == Decimal("0.5995") and eth["held"] == Decimal("1.2005")
    assert ledger_check() == []


def test_balances_endpoint_shows_available_held_and_instruments(wallet):
    wallet.request(amount="0.3")
    (eth,) = wallet.client.get("/api/v1/balances/").json()
    assert (eth["currency"], eth["available"], eth["held"]) == ("ETH", "1.4995", "0.3005")
    assert sorted(eth["instruments"], key=lambda i: i["instrument"]) == [
        {"instrument": "VA/HAS/ETHHKD", "available": "0.8", "held": "0"},
        {"instrument": "VA/HAS/ETHUSD", "available": "0.6995", "held": "0.3005"},
    ]


def test_same_key_same_body_returns_the_same_order(wallet):
    first = wallet.request(key="k")
    again = wallet.request(key="k")  # a fresh OTP: the code is not part of the fingerprint
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert WithdrawalOrder.objects.count() == 1


def test_same_key_other_body_is_a_conflict(wallet):
    wallet.request(key="k")
    before = snapshot(wallet.customer)
    response = wallet.request(key="k", amount="0.6")
    assert_refused(response, "idempotency_conflict", 409, before, wallet.customer)


def test_keys_are_per_customer(wallet):
    from rest_framework.test import APIClient

    from ledger.services import ledger_deposit
    from tests.withdrawals.conftest import Wallet, enrolled_customer

    wallet.request(key="shared")
    other = enrolled_customer()
    ledger_deposit(customer=other, currency="ETH", quote="USD", amount=Decimal("1"), reference="dep-other")
    client = APIClient()
    client.force_authenticate(other.user)
    other_wallet = Wallet(customer=other, client=client, coin=wallet.coin,
                          address=AddressFactory(customer=other, network=wallet.coin.network))
    assert other_wallet.request(key="shared").status_code == 201
    assert WithdrawalOrder.objects.count() == 2


@pytest.mark.parametrize("overrides, code, field", [
    ({"amount": "abc"}, "invalid_amount", "amount"),
    ({"amount": "1e-3"}, "invalid_amount", "amount"),
    ({"amount": " 0.5"}, "invalid_amount", "amount"),
    ({"amount": "0,5"}, "invalid_amount", "amount"),
    ({"amount": 0.5}, "invalid_amount", "amount"),
    ({"amount": "0"}, "amount_not_positive", "amount"),
    ({"amount": "-1"}, "amount_not_positive", "amount"),
    ({"amount": "0.123456789"}, "amount_precision", "amount"),
    # 29 places on an 8-decimal coin: refused as typed, never rounded to 0.25 by the decimal context.
    ({"amount": "0.24999999999999999999999999999"}, "amount_precision", "amount"),
    ({"amount": "0.0001"}, "amount_below_minimum", "amount"),
    ({"amount": "101"}, "amount_above_maximum", "amount"),
    ({"currency": "DOGE"}, "unknown_coin", "currency"),
    ({"network": "TRON"}, "unknown_coin", "currency"),
    ({"amount": "1.9"}, "insufficient_balance", None),
    ({"otp": "000000"}, "invalid_otp", "otp"),
    ({"otp": "12ab"}, "validation_error", "otp"),  # not 6 digits: bad input, not a guess (not counted)
    ({"address_id": 999999}, "not_found", None),
    ({"address_id": "x"}, "validation_error", "address_id"),
])
def test_refusals_change_nothing(wallet, overrides, code, field):
    from core.errors import ERROR_STATUS

    before = snapshot(wallet.customer)
    if isinstance(overrides.get("amount"), float):
        response = wallet.client.post("/api/v1/withdrawals/", {
            "currency": "ETH", "network": "ETH", "address_id": wallet.address.pk, "amount": 0.5, "otp": "123456"},
            format="json", HTTP_IDEMPOTENCY_KEY="k")
    else:
        response = wallet.request(**overrides)
    assert_refused(response, code, ERROR_STATUS.get(code, 400), before, wallet.customer, field)


@pytest.mark.parametrize("missing", ["currency", "network", "address_id", "amount", "otp"])
def test_missing_field_is_a_validation_error_naming_it(wallet, missing):
    before = snapshot(wallet.customer)
    body = {"currency": "ETH", "network": "ETH", "address_id": wallet.address.pk, "amount": "0.5", "otp": "123456"}
    del body[missing]
    response = wallet.client.post("/api/v1/withdrawals/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_refused(response, "validation_error", 400, before, wallet.customer, field=missing)


def test_idempotency_key_is_required(wallet):
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(key=""), "idempotency_key_required", 400, before, wallet.customer)


def test_disabled_coin(wallet):
    wallet.coin.enabled = False
    wallet.coin.save()
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(), "coin_disabled", 400, before, wallet.customer)


def test_kyc_required(wallet):
    wallet.customer.kyc_status = "pending"
    wallet.customer.save()
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(), "kyc_required", 403, before, wallet.customer)


def test_address_not_verified_and_cooling_down(wallet):
    from datetime import timedelta

    from django.utils import timezone

    pending = AddressFactory(customer=wallet.customer, network=wallet.coin.network, status="pending_verification",
                             verified_at=None, usable_from=None)
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(address_id=pending.pk), "address_not_verified", 400, before, wallet.customer)
    fresh = AddressFactory(customer=wallet.customer, network=wallet.coin.network,
                           usable_from=timezone.now() + timedelta(hours=23))
    assert_refused(wallet.request(address_id=fresh.pk), "address_cooling_down", 400, before, wallet.customer)


def test_address_of_another_network_is_a_mismatch(wallet):
    btc_address = AddressFactory(customer=wallet.customer, network=btc_network(),
                                 address="bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(address_id=btc_address.pk), "network_mismatch", 400, before, wallet.customer)


def test_another_customers_address_is_not_found(wallet):
    stranger = AddressFactory(network=wallet.coin.network)
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(address_id=stranger.pk), "not_found", 404, before, wallet.customer)


def test_daily_limit_counts_todays_live_orders(wallet, otp_bypass):
    wallet.coin.daily_limit = Decimal("0.8")
    wallet.coin.save()
    assert wallet.request(key="a", amount="0.5").status_code == 201
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(key="b", amount="0.4"), "daily_limit_exceeded", 400, before, wallet.customer)
    # A cancelled order no longer counts.
    order_id = WithdrawalOrder.objects.get().pk
    assert wallet.client.post(f"/api/v1/withdrawals/{order_id}/cancel/").status_code == 200
    assert wallet.request(key="c", amount="0.4").status_code == 201


def test_otp_code_cannot_be_used_twice(wallet):
    from tests.withdrawals.conftest import fresh_otp

    code = fresh_otp(wallet.customer)
    assert wallet.request(key="a", otp=code, amount="0.1").status_code == 201
    before = snapshot(wallet.customer)
    assert_refused(wallet.request(key="b", otp=code, amount="0.1"), "invalid_otp", 400, before, wallet.customer)


def test_refused_request_does_not_burn_the_otp_code(wallet):
    from tests.withdrawals.conftest import fresh_otp

    code = fresh_otp(wallet.customer)
    assert wallet.request(key="a", otp=code, amount="5").json()["code"] == "insufficient_balance"
    assert wallet.request(key="b", otp=code, amount="0.1").status_code == 201


def test_unauthenticated_and_staff_without_customer(wallet):
    from rest_framework.test import APIClient

    from tests.fixtures.factories import StaffFactory

    anonymous = APIClient().post("/api/v1/withdrawals/", {}, format="json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    staff = APIClient()
    staff.force_authenticate(StaffFactory())
    assert staff.get("/api/v1/withdrawals/").json()["code"] == "permission_denied"


def test_cancel_releases_exactly_and_only_while_pending(wallet):
    order = wallet.request(amount="1.2").json()
    response = wallet.client.post(f"/api/v1/withdrawals/{order['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    (eth,) = customer_balances(customer=wallet.customer)
    assert eth["available"] == Decimal("1.8") and eth["held"] == 0
    assert WorkOrder.objects.get(object_id=order["id"]).status == "cancelled"
    again = wallet.client.post(f"/api/v1/withdrawals/{order['id']}/cancel/")
    assert again.status_code == 200  # cancelling a cancelled order changes nothing
    assert ledger_check() == []


def test_cancel_after_approval_is_refused(wallet):
    from withdrawals.services.orders import withdrawal_approve

    order_id = wallet.request().json()["id"]
    withdrawal_approve(order=order_id, actor=None, reason="test")
    response = wallet.client.post(f"/api/v1/withdrawals/{order_id}/cancel/")
    assert response.status_code == 409 and response.json()["code"] == "not_cancellable"
    assert WithdrawalOrder.objects.get(pk=order_id).status == "approved"


def test_customers_never_see_each_others_orders(wallet):
    from rest_framework.test import APIClient

    from tests.withdrawals.conftest import enrolled_customer

    order_id = wallet.request().json()["id"]
    other = APIClient()
    other.force_authenticate(enrolled_customer().user)
    assert other.get(f"/api/v1/withdrawals/{order_id}/").status_code == 404
    assert other.post(f"/api/v1/withdrawals/{order_id}/cancel/").status_code == 404
    assert other.get("/api/v1/withdrawals/").json()["count"] == 0


def test_list_filters_and_pagination_shape(wallet, otp_bypass):
    first = wallet.request(key="a", amount="0.1").json()
    wallet.request(key="b", amount="0.2")
    wallet.client.post(f"/api/v1/withdrawals/{first['id']}/cancel/")
    body = wallet.client.get("/api/v1/withdrawals/", {"status": "cancelled"}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [o["id"] for o in body["results"]] == [first["id"]]
    assert wallet.client.get("/api/v1/withdrawals/", {"currency": "BTC"}).json()["count"] == 0


def test_list_and_detail_query_counts_do_not_grow_with_orders(wallet, otp_bypass):
    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            assert wallet.client.get(path).status_code == 200
        return len(ctx)

    first = wallet.request(key="a", amount="0.01").json()["id"]
    with_one = queries("/api/v1/withdrawals/")
    detail_one = queries(f"/api/v1/withdrawals/{first}/")
    for n in range(5):
        wallet.request(key=f"more-{n}", amount="0.01")
    assert queries("/api/v1/withdrawals/") == with_one
    assert queries(f"/api/v1/withdrawals/{first}/") == detail_one


def test_usdt_on_tron_address_is_refused_for_erc20(wallet):
    usdt = CurrencyFactory(code="USDT", decimals=6)
    CoinFactory(currency=usdt, network=NetworkFactory(code="ETH"), contract_address="0x" + "22" * 20, decimals=6,
                min_amount=Decimal("1"), max_amount=Decimal("1000"), daily_limit=Decimal("1000"),
                customer_fee=Decimal("1"))
    tron_address = AddressFactory(customer=wallet.customer, network=NetworkFactory(
        code="TRON", kind="tron", native_currency=CurrencyFactory(code="TRX", decimals=6), chain_id=None),
        address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8")
    before = snapshot(wallet.customer)
    response = wallet.request(currency="USDT", network="ETH", address_id=tron_address.pk, amount="10")
    assert_refused(response, "network_mismatch", 400, before, wallet.customer)
