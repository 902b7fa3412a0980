"""Each move of a trade and each refusal, through the services (tests/p2p/test_api.py goes
through the endpoints). Balances are read from the ledger; every test ends with it clean."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from approvals.models import WorkOrder
from core.errors import DomainError
from ledger.models import JournalEntry
from ledger.selectors import account_balance, ledger_check
from p2p.models import P2POffer, P2PTrade
from p2p.services import (
    offer_pause,
    offer_resume,
    offer_withdraw,
    trade_appeal,
    trade_cancel,
    trade_evidence_add,
    trade_mark_paid,
    trade_release,
    trade_unmark_paid,
    trades_sweep,
)
from tests.p2p.conftest import named_customer, proof

Status = P2PTrade.Status


def available(customer, instrument):
    return account_balance(customer=customer, currency="USDT", kind="customer_available", instrument=instrument)


def held(customer, instrument):
    return account_balance(customer=customer, currency="USDT", kind="customer_held", instrument=instrument)


def refused(code, call, **kwargs):
    with pytest.raises(DomainError) as error:
        call(**kwargs)
    assert error.value.code == code, error.value.detail
    return error.value


@pytest.fixture(autouse=True)
def _ledger_clean(db):
    yield
    assert ledger_check() == []


# --- taking an offer ---------------------------------------------------------------------------

def test_taking_an_offer_escrows_the_sellers_coins_largest_instrument_first(market):
    offer = market.offer()
    trade = market.take(offer, "4500")
    assert trade.status == Status.OPEN and trade.version == 1
    # fee 0.1% paid by the seller: 4,504.5 in escrow, 4,000 from HKD (largest) + 504.5 from USD
    assert trade.fee == Decimal("4.5") and trade.escrow_amount == Decimal("4504.5")
    assert trade.buyer_receives == Decimal("4500") and trade.fiat_amount == Decimal("35100.00")
    assert trade.escrow_split == [{"instrument": "VA/HAS/USDTHKD", "amount": "4000"},
                                  {"instrument": "VA/HAS/USDTUSD", "amount": "504.5"}]
    assert held(market.seller, "VA/HAS/USDTHKD") == Decimal("4000")
    assert available(market.seller, "VA/HAS/USDTUSD") == Decimal("2495.5")
    entry = JournalEntry.objects.get(reference=f"p2p:trade:{trade.pk}:escrow")
    assert entry.kind == "p2p_escrow"
    offer.refresh_from_db()
    assert offer.remaining == Decimal("1500")
    assert [(h.from_status, h.to_status) for h in trade.history.all()] == [("", "open")]


def test_buyer_pays_the_fee_when_the_offer_says_so(market):
    trade = market.take(market.offer(fee_payer="buyer"), "1000")
    assert trade.escrow_amount == Decimal("1000") and trade.buyer_receives == Decimal("999")


@pytest.mark.parametrize(("amount", "code"), [("50", "amount_below_minimum"), ("7000", "offer_unavailable"),
                                              ("1.0000001", "amount_precision"), ("-1", "amount_not_positive")])
def test_taking_outside_the_offer_is_refused_and_changes_nothing(market, amount, code):
    offer = market.offer(max_trade="6000")
    refused(code, market.take, offer=offer, amount=amount)
    offer.refresh_from_db()
    assert offer.remaining == Decimal("6000") and not P2PTrade.objects.exists()


def test_a_trade_above_the_offer_maximum_is_refused(market):
    refused("amount_above_maximum", market.take, offer=market.offer(max_trade="2000"), amount="2500")


def test_the_last_remainder_may_be_below_the_minimum(market):
    offer = market.offer(total_amount="1050", max_trade="1000", min_trade="100")
    market.take(offer, "1000")
    second = named_customer("Second", "Buyer")
    assert market.take(offer, "50", buyer=second).amount == Decimal("50")


def test_a_seller_short_of_coins_cannot_be_taken(market):
    offer = market.offer(total_amount="8000", max_trade="8000")
    refused("insufficient_balance", market.take, offer=offer, amount="7000")
    offer.refresh_from_db()
    assert offer.remaining == Decimal("8000") and not P2PTrade.objects.exists()


def test_paused_and_withdrawn_offers_cannot_be_taken(market):
    offer = market.offer()
    offer_pause(offer=offer, seller=market.seller)
    refused("offer_unavailable", market.take, offer=offer, amount="1000")
    offer_resume(offer=offer, seller=market.seller)
    market.take(offer, "1000")
    offer_withdraw(offer=offer, seller=market.seller)
    refused("offer_unavailable", market.take, offer=offer, amount="1000")
    assert [h.to_status for h in P2POffer.objects.get(pk=offer.pk).history.all()] == [
        "active", "paused", "active", "withdrawn"]


def test_only_the_seller_moves_an_offer(market):
    refused("not_found", offer_pause, offer=market.offer(), seller=market.buyer)


def test_kyc_is_required_on_both_sides(market):
    offer = market.offer()
    market.buyer.kyc_status = "pending"
    market.buyer.save()
    refused("kyc_required", market.take, offer=offer, amount="1000")
    pending = named_customer("No", "Kyc", kyc_status="pending")
    refused("kyc_required", type(market)(seller=pending, buyer=market.buyer, account=market.account).offer)


def test_kyc_level_limits_the_days_trading(market, settings):
    settings.P2P_DAILY_FIAT_LIMITS = {"HKD": {1: Decimal("10000")}}
    offer = market.offer()
    market.take(offer, "1000")  # 7,800 HKD
    error = refused("daily_limit_exceeded", market.take, offer=offer, amount="500")  # 3,900 more
    assert "2200" in error.detail


def test_payment_methods_are_the_sellers_own_active_accounts_in_the_offers_fiat(market):
    from tests.p2p.conftest import active_bank_account

    other = active_bank_account(market.buyer)
    refused("bank_account_not_active", market.offer, payment_method_ids=[other.pk])
    refused("bank_account_not_active", market.offer, fiat="USD")  # an HKD account for a USD offer
    refused("validation_error", market.offer, payment_method_ids=[])


def test_an_offer_whose_account_was_archived_cannot_be_taken(market):
    from fiat.services.bank_accounts import bank_account_archive

    offer = market.offer()
    bank_account_archive(bank_account=market.account, actor=market.seller.user, reason="closed")
    refused("offer_unavailable", market.take, offer=offer, amount="1000")


def test_a_seller_cannot_take_their_own_offer(market):
    refused("validation_error", market.take, offer=market.offer(), amount="1000", buyer=market.seller)


# --- paid, undo once ------------------------------------------------------------------------------

def test_the_buyer_marks_paid_with_the_payer_account_and_proof(market):
    trade = market.paid(market.take(market.offer()))
    assert trade.status == Status.BUYER_PAID and trade.version == 2
    assert trade.payer_account == "HSBC 123-456789-001" and trade.release_deadline is not None
    assert trade.evidence.get().kind == "payment_proof"


def test_a_payer_in_another_name_is_refused(market):
    trade = market.take(market.offer())
    refused("payer_name_mismatch", trade_mark_paid, trade=trade, customer=market.buyer, version=1,
            payer_name="Someone Else", payer_account="HSBC 1", proof=proof())
    trade.refresh_from_db()
    assert trade.status == Status.OPEN and trade.version == 1 and not trade.evidence.exists()


def test_the_name_check_ignores_case_order_and_punctuation(market):
    trade = market.take(market.offer())
    trade_mark_paid(trade=trade, customer=market.buyer, version=1, payer_name="CHAN, Tai-Man",
                    payer_account="HSBC 1", proof=proof())


def test_a_proof_that_is_not_an_image_or_pdf_is_refused(market):
    trade = market.take(market.offer())
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("proof.png", b"<html>", content_type="image/png")
    refused("validation_error", trade_mark_paid, trade=trade, customer=market.buyer, version=1,
            payer_name="Chan Tai Man", payer_account="HSBC 1", proof=fake)


def test_only_the_buyer_marks_paid_and_a_stranger_sees_nothing(market):
    trade = market.take(market.offer())
    kwargs = {"trade": trade, "version": 1, "payer_name": "Xiao Ming", "payer_account": "1", "proof": proof()}
    refused("permission_denied", trade_mark_paid, customer=market.seller, **kwargs)
    refused("not_found", trade_mark_paid, customer=named_customer("Some", "One"), **kwargs)


def test_the_paid_mark_can_be_taken_back_once(market):
    trade = market.paid(market.take(market.offer()))
    trade = trade_unmark_paid(trade=trade, customer=market.buyer, version=2)
    assert trade.status == Status.OPEN and trade.version == 3 and trade.paid_undone
    trade = market.paid(trade)
    refused("invalid_transition", trade_unmark_paid, trade=trade, customer=market.buyer, version=trade.version)


# --- release ------------------------------------------------------------------------------------

def test_the_seller_releases_with_otp_escrow_to_the_buyers_fiat_instrument(market):
    trade = market.paid(market.take(market.offer(), "1000"))
    trade = trade_release(trade=trade, customer=market.seller, version=2, otp=market.otp())
    assert trade.status == Status.RELEASED and trade.version == 3
    assert available(market.buyer, "VA/HAS/USDTHKD") == Decimal("1000")
    assert held(market.seller, "VA/HAS/USDTHKD") == 0
    entry = JournalEntry.objects.get(reference=f"p2p:trade:{trade.pk}:release")
    assert entry.kind == "p2p_release"
    assert {k: entry.request[k] for k in ("seller", "buyer", "currency", "amount", "fee", "fee_payer", "fiat",
                                          "price")} == {
        "seller": market.seller.pk, "buyer": market.buyer.pk, "currency": "USDT", "amount": "1000", "fee": "1",
        "fee_payer": "seller", "fiat": "HKD", "price": "7.8"}


def test_release_before_paid_is_refused(market):
    trade = market.take(market.offer())
    refused("not_paid_yet", trade_release, trade=trade, customer=market.seller, version=1, otp=market.otp())


def test_release_needs_a_right_code_and_only_the_seller_releases(market):
    trade = market.paid(market.take(market.offer()))
    refused("invalid_otp", trade_release, trade=trade, customer=market.seller, version=2, otp="000000")
    refused("permission_denied", trade_release, trade=trade, customer=market.buyer, version=2, otp="1")
    trade.refresh_from_db()
    assert trade.status == Status.BUYER_PAID


def test_a_stale_version_is_refused_with_trade_state_changed(market):
    trade = market.paid(market.take(market.offer()))
    error = refused("trade_state_changed", trade_release, trade=trade, customer=market.seller, version=1,
                    otp=market.otp())
    assert error.field == "version"


# --- cancel -------------------------------------------------------------------------------------

def test_the_buyer_cancels_before_paid_escrow_back_and_offer_restored(market):
    offer = market.offer()
    trade = market.take(offer, "1000")
    trade = trade_cancel(trade=trade, customer=market.buyer, version=1)
    assert trade.status == Status.CANCELLED and trade.cancelled_by == "buyer"
    assert available(market.seller, "VA/HAS/USDTHKD") == Decimal("4000")
    assert JournalEntry.objects.get(reference=f"p2p:trade:{trade.pk}:refund").kind == "p2p_refund"
    offer.refresh_from_db()
    assert offer.remaining == Decimal("6000")


def test_the_seller_only_asks_to_cancel_and_then_it_does_not_count(market, settings):
    settings.P2P_BUYER_CANCELS_PER_DAY = 1
    offer = market.offer()
    trade = market.take(offer)
    trade = trade_cancel(trade=trade, customer=market.seller, version=1)
    assert trade.status == Status.OPEN and trade.seller_cancel_requested and trade.version == 2
    trade = trade_cancel(trade=trade, customer=market.buyer, version=2)
    assert trade.cancelled_by == "both"
    market.take(offer)  # not counted towards the limit


def test_no_cancel_after_paid(market):
    trade = market.paid(market.take(market.offer()))
    refused("not_cancellable", trade_cancel, trade=trade, customer=market.buyer, version=2)


def test_the_buyers_daily_cancel_limit(market, settings):
    settings.P2P_BUYER_CANCELS_PER_DAY = 2
    offer = market.offer()
    for _ in range(2):
        trade_cancel(trade=market.take(offer), customer=market.buyer, version=1)
    refused("cancel_limit_reached", market.take, offer=offer, amount="1000")


# --- appeal, sweep --------------------------------------------------------------------------------

def test_appeal_only_after_the_minimum_time_in_buyer_paid(market):
    trade = market.take(market.offer())
    refused("appeal_too_early", trade_appeal, trade=trade, customer=market.buyer, version=1, reason="x")
    trade = market.paid(trade)
    refused("appeal_too_early", trade_appeal, trade=trade, customer=market.buyer, version=2, reason="x")
    later = timezone.now() + timedelta(minutes=11)
    trade = trade_appeal(trade=trade, customer=market.seller, version=2, reason="No money in my bank", now=later)
    assert trade.status == Status.IN_APPEAL and trade.appealed_by == "seller"


def test_the_sweep_expires_unpaid_trades_and_gives_the_coins_back(market):
    offer = market.offer()
    trade = market.take(offer, "1000")
    assert trades_sweep(now=timezone.now()) == {"expired": 0, "appealed": 0}
    result = trades_sweep(now=timezone.now() + timedelta(minutes=16))
    assert result == {"expired": 1, "appealed": 0}
    trade.refresh_from_db()
    assert trade.status == Status.EXPIRED and trade.history.last().actor is None
    assert available(market.seller, "VA/HAS/USDTHKD") == Decimal("4000")
    offer.refresh_from_db()
    assert offer.remaining == Decimal("6000")


def test_the_sweep_appeals_never_releases_a_paid_trade_past_the_release_window(market):
    trade = market.paid(market.take(market.offer()))
    result = trades_sweep(now=timezone.now() + timedelta(minutes=61))
    assert result == {"expired": 0, "appealed": 1}
    trade.refresh_from_db()
    assert trade.status == Status.IN_APPEAL and trade.appealed_by == "system"
    assert not JournalEntry.objects.filter(reference__endswith=":release").exists()


def test_evidence_from_either_side_does_not_move_the_version(market):
    trade = market.paid(market.take(market.offer()))
    trade_evidence_add(trade=trade, customer=market.seller, file=proof("statement.png"), note="my statement")
    trade.refresh_from_db()
    assert trade.version == 2 and trade.evidence.count() == 2
    refused("not_found", trade_evidence_add, trade=trade, customer=named_customer("A", "B"), file=proof())


def test_release_during_appeal_cancels_the_open_work_order(market, settings):
    from p2p.services import trade_resolution_propose
    from tests.approvals.conftest import staff_in

    trade = market.paid(market.take(market.offer()))
    trade = trade_appeal(trade=trade, customer=market.buyer, version=2, reason="Paid, not released",
                         now=timezone.now() + timedelta(minutes=11))
    wo = trade_resolution_propose(trade=trade, actor=staff_in("Compliance"), outcome="release", reason="proof ok")
    trade = trade_release(trade=trade, customer=market.seller, version=trade.version, otp=market.otp())
    assert trade.status == Status.RELEASED
    wo.refresh_from_db()
    assert wo.status == WorkOrder.Status.CANCELLED
