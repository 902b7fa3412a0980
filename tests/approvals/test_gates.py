"""Step conditions (amount / value thresholds, fail safe without a price), the screening gate
and the travel-rule gate of withdrawal work orders."""

from decimal import Decimal

import pytest

from approvals.models import Condition, RiskListEntry, WorkOrderEvent
from approvals.screening import ScreeningResult, register_provider
from approvals.selectors import work_order_for_subject
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from ledger.selectors import customer_balances
from tests.approvals.conftest import make_flow, staff_in, travel_rule_for
from withdrawals.services.travel_rule import travel_rule_validate, withdrawal_travel_rule_set

pytestmark = pytest.mark.django_db
WD = "atm.va.coin_withdraw_apply"


def states(wo):
    return [(s.name, s.state) for s in wo.steps.order_by("position")]


# --- amount and value conditions ------------------------------------------------------------------

@pytest.fixture
def threshold_flows(db):
    return make_flow(WD, [
        ("Ops", "Ops", 1),
        ("Big in ETH", "Treasury", 1, Condition.AMOUNT_GTE, Decimal("1"), "ETH"),
        ("Big in HKD", "Treasury", 2, Condition.VALUE_GTE, Decimal("10000"), "HKD"),
        ("Only USDT", "Treasury", 1, Condition.AMOUNT_GTE, Decimal("1"), "USDT"),
    ])


def test_amount_and_value_steps_are_skipped_below_the_threshold(wallet, threshold_flows):
    wo = work_order_for_subject(wallet.request(amount="0.3"))  # 5,850 HKD
    assert states(wo) == [("Ops", "current"), ("Big in ETH", "skipped"), ("Big in HKD", "skipped"),
                          ("Only USDT", "skipped")]
    notes = dict(wo.steps.values_list("name", "note"))
    assert notes["Big in ETH"] == "Amount 0.3 ETH below 1."
    assert notes["Big in HKD"] == "Value 5850 HKD below 10000 HKD."
    assert notes["Only USDT"] == "Threshold is for USDT; this is ETH."
    skipped = WorkOrderEvent.objects.filter(work_order=wo, kind="step_skipped").values_list("step_position", "reason")
    assert list(skipped) == [(2, "Amount 0.3 ETH below 1."), (3, "Value 5850 HKD below 10000 HKD."),
                             (4, "Threshold is for USDT; this is ETH.")]


def test_amount_and_value_steps_apply_at_and_above_the_threshold(wallet, threshold_flows):
    order = wallet.request(amount="1", travel_rule=travel_rule_for(wallet.address.address))  # 19,500 HKD
    wo = work_order_for_subject(order)
    assert states(wo) == [("Ops", "current"), ("Big in ETH", "pending"), ("Big in HKD", "pending"),
                          ("Only USDT", "skipped")]
    ops, t1, t2, t3 = staff_in("Ops"), staff_in("Treasury"), staff_in("Treasury"), staff_in("Treasury")
    for actor in (ops, t1, t2):
        work_order_decide(work_order=wo, actor=actor, decision="approve")
    wo.refresh_from_db()
    assert (wo.status, wo.current_position) == ("open", 3)
    work_order_decide(work_order=wo, actor=t3, decision="approve")
    wo.refresh_from_db()
    order.refresh_from_db()
    assert (wo.status, order.status) == ("approved", "approved")


def test_without_a_price_value_conditions_apply(wallet, threshold_flows):
    from approvals.models import PriceQuote

    PriceQuote.objects.all().delete()
    wo = work_order_for_subject(wallet.request(amount="0.01"))
    assert wo.context["value_hkd"] is None and wo.context["travel_rule_required"] is True
    assert states(wo)[2] == ("Big in HKD", "pending")
    assert wo.steps.get(position=3).note == "No HKD price for ETH: the step applies."


def test_a_stale_price_is_not_used(wallet, threshold_flows, settings):
    from datetime import timedelta

    from django.utils import timezone

    from approvals.models import PriceQuote

    PriceQuote.objects.update(updated_at=timezone.now() - timedelta(days=8))
    wo = work_order_for_subject(wallet.request(amount="0.01"))
    assert wo.context["value_hkd"] is None
    assert states(wo)[2] == ("Big in HKD", "pending")


def test_when_no_step_applies_the_first_is_kept(wallet):
    make_flow(WD, [("Only big", "Treasury", 1, Condition.VALUE_GTE, Decimal("1000000"), "HKD")])
    wo = work_order_for_subject(wallet.request(amount="0.01"))
    assert states(wo) == [("Only big", "current")]
    assert "first step is kept" in wo.steps.get().note


# --- screening ------------------------------------------------------------------------------------

def list_destination(wallet, category, level, network=True):
    return RiskListEntry.objects.create(network=wallet.coin.network if network else None,
                                        address=wallet.address.address.upper().replace("0X", "0x"),
                                        category=category, level=level, source="OFAC SDN 2026-11")


def test_screening_accept_records_the_result_and_skips_the_compliance_step(wallet):
    wo = work_order_for_subject(wallet.request())  # the default flow
    assert wo.screening_outcome == "accept"
    assert wo.screening == {"outcome": "accept", "reason": "No risk-list match.", "hits": [],
                            "provider": "risk_list"}
    assert states(wo) == [("Operations check", "current"), ("Compliance review", "skipped"),
                          ("Treasury sign-off", "skipped")]


def test_screening_alert_adds_the_compliance_step(wallet):
    entry = list_destination(wallet, "mixer", "high", network=False)  # any network, checksum case ignored
    order = wallet.request()
    wo = work_order_for_subject(order)
    assert wo.screening_outcome == "alert"
    assert wo.screening["hits"] == [{"id": entry.pk, "category": "mixer", "level": "high",
                                     "source": "OFAC SDN 2026-11"}]
    assert states(wo) == [("Operations check", "current"), ("Compliance review", "pending"),
                          ("Treasury sign-off", "skipped")]
    work_order_decide(work_order=wo, actor=staff_in("Withdrawal approvers"), decision="approve")
    wo.refresh_from_db()
    assert wo.current_step.name == "Compliance review"
    work_order_decide(work_order=wo, actor=staff_in("Compliance"), decision="approve", comment="Cleared: KYC'd")
    order.refresh_from_db()
    assert order.status == "approved"


def test_screening_reject_rejects_the_withdrawal_at_once_and_releases_the_hold(wallet):
    before = customer_balances(customer=wallet.customer)
    list_destination(wallet, "sanctions", "low")
    order = wallet.request()
    wo = work_order_for_subject(order)
    assert (wo.status, wo.screening_outcome, order.status) == ("rejected", "reject", "rejected")
    assert wo.reason.startswith("Screening rejected the destination: Destination is on the risk list: Sanctions")
    assert order.history.last().reason == wo.reason and order.history.last().actor is None
    assert set(wo.steps.values_list("state", flat=True)) == {"closed", "skipped"}
    assert customer_balances(customer=wallet.customer) == before
    assert wo.events.filter(kind="status", to_status="rejected", actor=None).exists()


def test_inactive_or_other_network_entries_do_not_match(wallet):
    from tests.fixtures.factories import btc_network

    RiskListEntry.objects.create(network=btc_network(), address=wallet.address.address, category="scam",
                                 level="severe")
    RiskListEntry.objects.create(network=None, address=wallet.address.address, category="scam", level="high",
                                 active=False)
    assert work_order_for_subject(wallet.request()).screening_outcome == "accept"


def test_a_failing_provider_raises_an_alert_not_an_accept(wallet, settings):
    class Broken:
        name = "broken"

        def score(self, network_code, address):
            raise TimeoutError("vendor down")

    register_provider("broken", Broken)
    settings.SCREENING_PROVIDER = "broken"
    wo = work_order_for_subject(wallet.request())
    assert wo.screening_outcome == "alert"
    assert "Screening unavailable (TimeoutError)" in wo.screening["reason"]


def test_a_custom_provider_is_used(wallet, settings):
    class Vendor:
        name = "vendor"

        def score(self, network_code, address):
            assert (network_code, address) == ("ETH", wallet.address.address)
            return ScreeningResult("reject", "vendor: darknet exposure 80%", [{"score": 80}], "vendor")

    register_provider("vendor", Vendor)
    settings.SCREENING_PROVIDER = "vendor"
    order = wallet.request()
    assert order.status == "rejected"
    assert "darknet exposure" in order.history.last().reason


# --- travel rule ----------------------------------------------------------------------------------

def test_travel_rule_blocks_the_last_approval_until_the_data_is_present(wallet):
    order = wallet.request(amount="0.5")  # 9,750 HKD >= 8,000
    wo = work_order_for_subject(order)
    assert wo.context["travel_rule_required"] is True
    approver, compliance = staff_in("Withdrawal approvers"), staff_in("Compliance",
                                                                         perms=("approvals.capture_travel_rule",))
    with pytest.raises(DomainError) as info:
        work_order_decide(work_order=wo, actor=approver, decision="approve")
    assert (info.value.code, info.value.status) == ("travel_rule_required", 409)
    assert not wo.decisions.exists(), "a blocked approval records nothing"

    data = travel_rule_for(wallet.address.address.upper().replace("0X", "0x"), beneficiary_vasp=None,
                           self_hosted=True)
    withdrawal_travel_rule_set(order=order, data=data, actor=compliance)
    order.refresh_from_db()
    assert order.travel_rule["self_hosted"] is True and order.travel_rule["beneficiary_vasp"] is None
    assert wo.events.filter(kind="travel_rule", actor=compliance).exists()

    work_order_decide(work_order=wo, actor=approver, decision="approve")
    order.refresh_from_db()
    assert order.status == "approved"


def test_below_the_threshold_no_travel_rule_data_is_needed(wallet):
    order = wallet.request(amount="0.4")  # 7,800 HKD
    wo = work_order_for_subject(order)
    assert wo.context["travel_rule_required"] is False
    work_order_decide(work_order=wo, actor=staff_in("Withdrawal approvers"), decision="approve")
    order.refresh_from_db()
    assert order.status == "approved"


def test_travel_rule_data_from_the_request_satisfies_the_gate(wallet):
    order = wallet.request(amount="0.5", travel_rule=travel_rule_for(wallet.address.address))
    work_order_decide(work_order=work_order_for_subject(order), actor=staff_in("Withdrawal approvers"),
                      decision="approve")
    order.refresh_from_db()
    assert order.status == "approved"


def test_travel_rule_capture_is_validated_permissioned_and_audited(wallet):
    from withdrawals.models import TravelRuleRecord

    order = wallet.request(amount="0.5")
    clerk = staff_in("Treasury")  # no capture_travel_rule permission
    with pytest.raises(DomainError) as info:
        withdrawal_travel_rule_set(order=order, data=travel_rule_for(wallet.address.address), actor=clerk)
    assert info.value.code == "permission_denied"
    capturer = staff_in(perms=("approvals.capture_travel_rule",))
    with pytest.raises(DomainError) as info:
        withdrawal_travel_rule_set(order=order, data=travel_rule_for("0x" + "cd" * 20), actor=capturer)
    assert (info.value.code, info.value.field) == ("validation_error", "travel_rule.beneficiary.address")
    data = travel_rule_for(wallet.address.address)
    withdrawal_travel_rule_set(order=order, data=data, actor=capturer)
    withdrawal_travel_rule_set(order=order, data=data, actor=capturer)  # unchanged: no second record
    (record,) = TravelRuleRecord.objects.filter(order=order)
    assert (record.actor, record.previous, record.data) == (capturer, None, travel_rule_validate(data))
    order.refresh_from_db()
    assert order.status == "pending_approval"


@pytest.mark.parametrize(("data", "field"), [
    (None, "travel_rule"),
    ({}, "travel_rule.originator.name"),
    ({"originator": {"name": "A"}}, "travel_rule.originator.account"),
    ({"originator": {"name": "A", "account": "1"}, "beneficiary": {"name": "B"}}, "travel_rule.beneficiary.address"),
    ({"originator": {"name": "A", "account": "1"}, "beneficiary": {"name": "B", "address": "x"}},
     "travel_rule.beneficiary_vasp.name"),
    ({"originator": {"name": "A", "account": "1"}, "beneficiary": {"name": "B", "address": "x"},
      "beneficiary_vasp": {"name": "V"}, "self_hosted": True}, "travel_rule.beneficiary_vasp.name"),
    ({"originator": {"name": "A", "account": "1"}, "beneficiary": {"name": "B", "address": "x"},
      "self_hosted": "yes"}, "travel_rule.self_hosted"),
    ({"originator": {"name": "A" * 141, "account": "1"}}, "travel_rule.originator.name"),
    ({"originator": {"name": 5, "account": "1"}}, "travel_rule.originator.name"),
])
def test_travel_rule_validate_names_the_field(data, field):
    with pytest.raises(DomainError) as info:
        travel_rule_validate(data)
    assert (info.value.code, info.value.field) == ("validation_error", field)


def test_travel_rule_validate_normalizes():
    assert travel_rule_validate({
        "originator": {"name": "  Chan   Tai Man ", "account": "C1"},
        "beneficiary": {"name": "Chan Tai Man", "address": " 0xabc "},
        "beneficiary_vasp": {"name": "Ex Ltd"}, "extra": "dropped"}) == {
        "originator": {"name": "Chan Tai Man", "account": "C1"},
        "beneficiary": {"name": "Chan Tai Man", "address": "0xabc"},
        "beneficiary_vasp": {"name": "Ex Ltd"}, "self_hosted": False}



def test_screening_matches_evm_addresses_in_any_case_and_others_exactly(db):
    """One query asks the network's kind and the list: hex (EVM) ignores the checksum case, a
    base58 address (TRON) is case-sensitive, an address listed on every network follows the
    network it is screened on."""
    from approvals.screening import screen
    from tests.fixtures.factories import CurrencyFactory, NetworkFactory

    NetworkFactory(code="ETH")
    NetworkFactory(code="TRON", kind="tron", native_currency=CurrencyFactory(code="TRX", decimals=6), chain_id=None)
    tron = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
    evm = "0x" + "ab" * 20
    for address in (tron, evm.upper().replace("0X", "0x")):
        RiskListEntry.objects.create(network=None, address=address, category="sanctions", level="severe",
                                     source="OFAC SDN 2026-11")
    assert screen("ETH", evm).outcome == "reject"
    assert screen("TRON", tron).outcome == "reject"
    assert screen("TRON", tron.lower()).outcome == "accept"
    assert screen("TRON", evm).outcome == "accept"  # on a base58 network the hex case counts
