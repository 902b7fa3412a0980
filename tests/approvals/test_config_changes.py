"""Every configuration change is recorded (pghistory triggers, even raw SQL); a change that loosens
a control waits for a second person (work order atm.config.change), one that tightens applies at once."""

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from approvals.models import ApprovalFlow, ConfigChange, RiskListEntry, WorkOrder
from approvals.services.config_changes import config_change_propose
from approvals.services.flows import approval_flow_activate, approval_flow_new_version
from approvals.services.work_orders import work_order_decide
from chains.models import Coin, Network
from core.errors import DomainError
from core.history import config_history_rows
from customers.models import Customer
from tests.approvals.conftest import make_flow, set_price, staff_in
from tests.fixtures.factories import CoinFactory, CustomerFactory
from tests.fixtures.staff import login_verified_staff

pytestmark = pytest.mark.django_db
CHECKERS = "Configuration checkers"
CONFIG = "atm.config.change"
VIEW = ("approvals.view_workorder",)


@pytest.fixture
def checker(db):
    return staff_in(CHECKERS, perms=VIEW)


@pytest.fixture
def maker(db):
    # In the checkers' group too: being the maker is what stops them, not the group.
    return staff_in(CHECKERS, "Treasury", perms=("approvals.view_pricequote", "approvals.change_pricequote",
                                                 "chains.view_coin", "chains.change_coin", *VIEW))


def changes_of(obj, field):
    return [(old, new) for row in config_history_rows(obj) for name, old, new in row["changes"] if name == field]


def test_a_raw_sql_update_of_a_coin_max_amount_is_recorded_with_old_and_new_values():
    coin = CoinFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE chains_coin SET max_amount = 250 WHERE id = %s", [coin.pk])
    latest = config_history_rows(coin)[0]
    assert latest["label"] == "update" and latest["user_id"] is None
    assert latest["changes"] == [("max_amount", Decimal("100"), Decimal("250"))]
    assert config_history_rows(coin)[-1]["label"] == "insert"


def test_a_lowered_price_waits_for_a_second_person_then_applies(client, maker, checker):
    CoinFactory()
    quote = set_price("ETH", "USD", "2500")
    login_verified_staff(client, maker)
    url = reverse("admin:approvals_pricequote_change", args=[quote.pk])
    response = client.post(url, {"currency": quote.currency_id, "quote": "USD", "price": "2000"}, follow=True)
    wo = WorkOrder.objects.get(type=CONFIG, status="open")
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"waiting for a second person: WO{wo.pk}" in m for m in shown), shown
    quote.refresh_from_db()
    assert quote.price == Decimal("2500"), "unchanged until a second person approves"

    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=wo, actor=maker, decision="approve")
    assert refused.value.code == "maker_cannot_approve"
    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=wo, actor=staff_in("Treasury"), decision="approve")
    assert refused.value.code == "permission_denied"
    quote.refresh_from_db()
    assert quote.price == Decimal("2500")

    login_verified_staff(client, checker)
    client.post(reverse("admin:approvals_workorder_decide", args=[wo.pk]), {"decision": "approve"})
    quote.refresh_from_db()
    change = ConfigChange.objects.get(work_order=wo)
    assert (quote.price, quote.updated_by, change.status, change.decided_by) == (
        Decimal("2000"), maker, "applied", checker)

    latest = config_history_rows(quote)[0]
    assert ("price", Decimal("2500"), Decimal("2000")) in latest["changes"]
    assert (latest["user_id"], latest["context"]["proposed_by"], latest["context"]["work_order"]) == (
        checker.pk, maker.pk, wo.pk)
    login_verified_staff(client, maker)  # the checker has no access to the price table
    page = client.get(reverse("admin:approvals_pricequote_history", args=[quote.pk])).content.decode()
    assert "2500 → 2000" in page and maker.username in page and checker.username in page


def test_a_raised_price_applies_at_once_and_is_recorded(maker):
    CoinFactory()
    quote = set_price("ETH", "USD", "2500")
    change = config_change_propose(target=quote, changes={"price": "2600"}, actor=maker, reason="market")
    quote.refresh_from_db()
    assert (quote.price, change.status, change.work_order) == (Decimal("2600"), "applied", None)
    latest = config_history_rows(quote)[0]
    assert ("price", Decimal("2500"), Decimal("2600")) in latest["changes"]
    assert (latest["user_id"], latest["context"]["reason"]) == (maker.pk, "market")
    assert config_change_propose(target=quote, changes={"price": "2600.000"}, actor=maker) is None


def test_a_coin_change_applies_what_tightens_and_holds_what_loosens(maker, checker):
    coin = CoinFactory()  # min 0.001, max 100, daily 200, confirmations 3
    change = config_change_propose(target=coin, changes={"min_amount": "0.01", "max_amount": "150",
                                                         "confirmations": 2}, actor=maker)
    coin.refresh_from_db()
    assert (coin.min_amount, coin.max_amount, coin.confirmations) == (Decimal("0.01"), Decimal("100"), 3)
    assert set(change.changes) == {"max_amount", "confirmations"} and set(change.applied_at_once) == {"min_amount"}
    work_order_decide(work_order=change.work_order, actor=checker, decision="approve")
    coin.refresh_from_db()
    assert (coin.max_amount, coin.confirmations) == (Decimal("150"), 2)


def test_when_the_tightening_part_alone_would_be_invalid_everything_waits(maker):
    coin = CoinFactory()
    change = config_change_propose(target=coin, changes={"min_amount": "120", "max_amount": "150",
                                                         "daily_limit": "300"}, actor=maker)
    coin.refresh_from_db()
    assert coin.min_amount == Decimal("0.001") and change.applied_at_once == {}
    assert set(change.changes) == {"min_amount", "max_amount", "daily_limit"}


def test_a_change_is_refused_when_the_value_moved_since_the_proposal(maker, checker):
    coin = CoinFactory()
    change = config_change_propose(target=coin, changes={"max_amount": "200"}, actor=maker)
    config_change_propose(target=coin, changes={"max_amount": "50"}, actor=checker)  # tightening: at once
    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=change.work_order, actor=checker, decision="approve")
    assert refused.value.code == "config_change_stale" and "max_amount is now 50" in refused.value.detail
    coin.refresh_from_db()
    assert coin.max_amount == Decimal("50")
    assert WorkOrder.objects.get(pk=change.work_order_id).status == "open"
    work_order_decide(work_order=change.work_order, actor=checker, decision="reject", comment="stale")
    change.refresh_from_db()
    assert change.status == "rejected"


def test_a_second_loosening_of_a_waiting_field_is_refused(maker):
    coin = CoinFactory()
    config_change_propose(target=coin, changes={"max_amount": "200"}, actor=maker)
    with pytest.raises(DomainError) as refused:
        config_change_propose(target=coin, changes={"max_amount": "300", "min_amount": "0.01"}, actor=maker)
    assert refused.value.code == "config_change_pending"
    coin.refresh_from_db()
    assert coin.min_amount == Decimal("0.001"), "a refusal changes nothing"
    with pytest.raises(DomainError) as refused:
        config_change_propose(target=coin, changes={"max_amount": "1", "min_amount": "5"}, actor=maker)
    assert refused.value.code == "validation_error"


@pytest.mark.parametrize(("make", "field", "loosen", "tighten"), [
    (lambda: CoinFactory().network, "confirmations", 1, 5),
    (lambda: CustomerFactory(kyc_level=1), "kyc_level", 2, 0),
    (lambda: RiskListEntry.objects.create(address="0xbad", category="scam", level="high"), "active", False, None),
    (lambda: RiskListEntry.objects.create(address="0xbad", category="scam", level="high"), "level", "low", "severe"),
    (lambda: CoinFactory(), "contract_address", "0x" + "1" * 40, None),
    (lambda: CoinFactory(fee_cap=Decimal("0.01")), "fee_cap", "0.02", "0.001"),
])
def test_what_loosens_waits_and_what_tightens_applies(maker, checker, make, field, loosen, tighten):
    target = make()
    before = getattr(target, field)
    change = config_change_propose(target=target, changes={field: loosen}, actor=maker)
    target.refresh_from_db()
    assert getattr(target, field) == before and change.status == "pending"
    work_order_decide(work_order=change.work_order, actor=checker, decision="approve")
    target.refresh_from_db()
    assert getattr(target, field) == type(target)._meta.get_field(field).to_python(loosen)
    if tighten is not None:
        change = config_change_propose(target=target, changes={field: tighten}, actor=maker)
        assert change.status == "applied"


def test_a_customer_kyc_approval_waits_for_a_second_person(maker, checker):
    customer = CustomerFactory(kyc_status=Customer.KycStatus.PENDING)
    change = config_change_propose(target=customer, changes={"kyc_status": "approved"}, actor=maker)
    assert change.status == "pending"
    assert config_change_propose(target=customer, changes={"kyc_status": "suspended"}, actor=maker).status == "applied"


def test_a_flow_activation_needs_someone_other_than_its_requester_and_author(maker, checker):
    flow = make_flow("atm.va.address_verify", [("Review", "Address reviewers", 1)])
    author = staff_in(CHECKERS)
    copy = approval_flow_new_version(flow=flow, actor=author)
    change = approval_flow_activate(flow=copy, actor=maker)
    copy.refresh_from_db()
    assert not copy.active and change.status == "pending"
    with pytest.raises(DomainError) as refused:
        work_order_decide(work_order=change.work_order, actor=author, decision="approve")
    assert refused.value.code == "maker_cannot_approve" and "author" in refused.value.detail
    copy.refresh_from_db()
    assert not copy.active
    work_order_decide(work_order=change.work_order, actor=checker, decision="approve")
    assert list(ApprovalFlow.objects.filter(type="atm.va.address_verify", active=True)) == [copy]


def test_the_coin_admin_routes_a_raise_of_the_limit_through_the_work_order(client, maker, anvil, settings):
    coin = CoinFactory()
    settings.CHAIN_RPC_URLS = {**settings.CHAIN_RPC_URLS, coin.network.code: anvil.url}  # saving asks the node
    login_verified_staff(client, maker)
    form = {"currency": coin.currency_id, "network": coin.network_id, "contract_address": "", "enabled": "on",
            "decimals": 8, "min_amount": "0.001", "max_amount": "500", "daily_limit": "200",
            "customer_fee": "0.0005", "confirmations": 3, "fee_currency": coin.fee_currency_id,
            "fee_cap": str(coin.fee_cap), "chain_decimals": coin.chain_decimals}
    response = client.post(reverse("admin:chains_coin_change", args=[coin.pk]), form, follow=True)
    shown = " ".join(str(m) for m in response.context["messages"])
    assert not (response.context.get("adminform") and response.context["adminform"].form.errors), \
        response.context["adminform"].form.errors
    assert "waiting for a second person: WO" in shown and "was changed successfully" not in shown
    assert Coin.objects.get(pk=coin.pk).max_amount == Decimal("100")
    history = client.get(reverse("admin:chains_coin_history", args=[coin.pk])).content.decode()
    assert "Waiting for a second person" in history and "max_amount 100 → 500" in history
    assert Network.objects.get(pk=coin.network_id).confirmations == 3
