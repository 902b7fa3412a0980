"""The whole cash-out: sell ETH for HKD at a quote, register and verify a bank account, request
HKD, two staff approve, export a schema-valid pain.001, import a camt.053 that pays it →
completed; a second one returned → funds back less the charge; ledger_check clean after each."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from lxml import etree

from approvals.models import PriceQuote, WorkOrder
from approvals.services.work_orders import work_order_decide
from core.errors import DomainError
from fiat.models import BankAccount, FiatWithdrawal, PaymentBatch, Quote, Sell
from fiat.payments import PAIN_NS, pain001_validate
from fiat.services.bank_accounts import bank_account_register
from fiat.services.batches import bank_statement_import, payment_batch_export, payment_batch_file
from fiat.services.sells import quote_create, sell_execute
from fiat.services.withdrawals import fiat_withdrawal_cancel, fiat_withdrawal_request
from ledger.models import Account, JournalEntry
from ledger.selectors import ledger_check
from ledger.services import ledger_deposit
from tests.fiat.conftest import HSBC_HK
from tests.fixtures.factories import CurrencyFactory
from tests.withdrawals.conftest import enrolled_customer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("otp_codes")]


def available(customer, currency, instrument):
    row = Account.objects.filter(customer=customer, currency=currency, instrument=instrument,
                                 kind="customer_available").first()
    return row.balance if row else Decimal(0)


def bank(tenant):
    row = Account.objects.filter(tenant=tenant, customer=None, currency="HKD", kind="client_money_bank").first()
    return row.balance if row else Decimal(0)


@pytest.fixture
def seller(db):
    customer = enrolled_customer(legal_name="CHAN Tai Man", country="HK", kyc_level=2)
    eth = CurrencyFactory(code="ETH", decimals=18)
    PriceQuote.objects.create(currency=eth, quote="HKD", price=Decimal("20000"))
    ledger_deposit(customer=customer, currency="ETH", quote="USD", amount=Decimal("1.0"), reference="d-usd")
    ledger_deposit(customer=customer, currency="ETH", quote="HKD", amount=Decimal("0.8"), reference="d-hkd")
    return customer


def camt053(statement_id: str, closing: Decimal, entries: list[str]) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>{statement_id}-MSG</MsgId><CreDtTm>2026-12-02T09:00:00</CreDtTm></GrpHdr>
<Stmt><Id>{statement_id}</Id><CreDtTm>2026-12-02T09:00:00</CreDtTm>
<Acct><Id><Othr><Id>004123456789001</Id></Othr></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="HKD">{closing:f}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<Dt><Dt>2026-12-02</Dt></Dt></Bal>
{''.join(entries)}
</Stmt></BkToCstmrStmt></Document>""".encode()


def debit_entry(e2e: str, amount: Decimal, ref: str) -> str:
    return (f'<Ntry><Amt Ccy="HKD">{amount:f}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
            f'<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>'
            f'</TxDtls></NtryDtls></Ntry>')


def return_entry(e2e: str, amount: Decimal, charge: Decimal, reason: str, ref: str) -> str:
    return (f'<Ntry><Amt Ccy="HKD">{amount:f}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            f'<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>'
            f'<Chrgs><Amt Ccy="HKD">{charge:f}</Amt></Chrgs>'
            f'<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>')


def approve_all(order, *people):
    wo = WorkOrder.objects.get(type="atm.fiat.withdraw_apply", object_id=order.pk)
    for person in people:
        work_order_decide(work_order=wo, actor=person, decision="approve", comment="ok")
    order.refresh_from_db()
    return wo


def test_the_whole_cash_out(seller, compliance_officer, ops_approver, treasurer, admin_user):
    # 1. sell 1.5 ETH for HKD at a quote
    quote = quote_create(customer=seller, sell_currency="ETH", sell_amount="1.5", fiat="HKD")
    assert quote.price == Decimal("19800") and quote.fiat_amount == Decimal("29700.00")
    sell, created = sell_execute(customer=seller, idempotency_key="s1", quote_id=quote.pk, otp="123456")
    assert created and sell.split == [{"instrument": "VA/HAS/ETHUSD", "amount": "1"},
                                      {"instrument": "VA/HAS/ETHHKD", "amount": "0.5"}]
    entry = JournalEntry.objects.get(reference=f"sell:{sell.pk}")
    assert entry.kind == "sell" and entry.customer_id == seller.pk
    assert {k: entry.request[k] for k in ("currency", "amount", "fiat", "fiat_amount", "price")} == {
        "currency": "ETH", "amount": "1.5", "fiat": "HKD", "fiat_amount": "29700", "price": "19800"}
    assert available(seller, "HKD", "FIAT/HAS/HKD") == Decimal("29700")
    assert ledger_check() == []
    again, created = sell_execute(customer=seller, idempotency_key="s1", quote_id=quote.pk, otp="000000")
    assert not created and again.pk == sell.pk

    # 2. register and verify a bank account
    account = bank_account_register(customer=seller, holder_name="Chan Tai Man", **HSBC_HK)
    review = WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk)
    work_order_decide(work_order=review, actor=compliance_officer, decision="approve", comment="name matches")
    account.refresh_from_db()
    assert account.status == BankAccount.Status.ACTIVE
    with pytest.raises(DomainError) as refused:  # cooling down
        fiat_withdrawal_request(customer=seller, idempotency_key="w0", bank_account_id=account.pk, amount="1000",
                                otp="123456")
    assert refused.value.code == "bank_account_not_active"
    BankAccount.objects.filter(pk=account.pk).update(usable_from=timezone.now() - timedelta(minutes=1))

    # 3. request HKD; two staff approve
    first, _ = fiat_withdrawal_request(customer=seller, idempotency_key="w1", bank_account_id=account.pk,
                                       amount="10000", otp="123456")
    assert first.status == "pending_approval" and first.fee == Decimal("5")
    assert available(seller, "HKD", "FIAT/HAS/HKD") == Decimal("19695")
    assert first.beneficiary["name"] == "Chan Tai Man" and first.originator["name"] == "CHAN Tai Man"
    wo = approve_all(first, ops_approver)
    assert first.status == "pending_approval"  # one person is not enough
    with pytest.raises(DomainError):
        work_order_decide(work_order=wo, actor=ops_approver, decision="approve")
    approve_all(first, treasurer)
    assert first.status == "approved"
    second, _ = fiat_withdrawal_request(customer=seller, idempotency_key="w2", bank_account_id=account.pk,
                                        amount="2000", otp="123456", charge_option="OUR")
    assert second.fee == Decimal("105")
    approve_all(second, ops_approver, treasurer)
    assert ledger_check() == []

    # 4. export a schema-valid pain.001; a re-download is byte-identical
    batch = payment_batch_export(currency="HKD", actor=treasurer)
    xml = payment_batch_file(batch=batch)
    pain001_validate(xml)
    doc = etree.fromstring(xml)
    ns = {"p": PAIN_NS}
    assert doc.findtext(".//p:GrpHdr/p:MsgId", namespaces=ns) == batch.message_id
    assert doc.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "12000.00"
    assert [e.text for e in doc.findall(".//p:EndToEndId", ns)] == [first.end_to_end_id, second.end_to_end_id]
    assert [e.text for e in doc.findall(".//p:ChrgBr", ns)] == ["SHAR", "DEBT"]
    assert payment_batch_file(batch=PaymentBatch.objects.get(pk=batch.pk)) == xml
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "sent"
    with pytest.raises(DomainError):  # nothing approved is left to export
        payment_batch_export(currency="HKD", actor=treasurer)
    assert ledger_check() == []

    # 5. camt.053: the first paid, the second returned (AC04, 25 HKD charge)
    closing = Decimal("29700") - Decimal("10000") - Decimal("25")
    statement = bank_statement_import(data=camt053("STMT-1", closing, [
        debit_entry(first.end_to_end_id, Decimal("10000"), "BANKREF1"),
        return_entry(second.end_to_end_id, Decimal("1975"), Decimal("25"), "AC04", "BANKREF2"),
        debit_entry("UNKNOWN-E2E", Decimal("12.34"), "BANKREF3"),
    ]), fmt="camt053", actor=treasurer, tenant=seller.tenant)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "completed" and first.bank_reference == "BANKREF1"
    assert second.status == "returned" and second.return_reason == "AC04"
    assert available(seller, "HKD", "FIAT/HAS/HKD") == Decimal("19695") - 2105 + 1975
    assert [line.outcome for line in statement.lines.all()] == ["completed", "returned", "unmatched"]
    assert statement.reconciled and statement.ledger_balance == closing == bank(seller.tenant)
    assert ledger_check() == []


def test_quote_codes_change_nothing(seller):
    PriceQuote.objects.filter(quote="HKD").update(updated_at=timezone.now() - timedelta(days=1))
    with pytest.raises(DomainError) as refused:
        quote_create(customer=seller, sell_currency="ETH", sell_amount="1", fiat="HKD")
    assert refused.value.code == "price_unavailable"
    assert Quote.objects.count() == 0
    PriceQuote.objects.filter(quote="HKD").update(updated_at=timezone.now())
    quote = quote_create(customer=seller, sell_currency="ETH", sell_amount="1", fiat="HKD")
    Quote.objects.filter(pk=quote.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    entries = JournalEntry.objects.count()
    with pytest.raises(DomainError) as refused:
        sell_execute(customer=seller, idempotency_key="k1", quote_id=quote.pk, otp="123456")
    assert refused.value.code == "quote_expired"
    assert Sell.objects.count() == 0 and JournalEntry.objects.count() == entries
    fresh = quote_create(customer=seller, sell_currency="ETH", sell_amount="1", fiat="HKD")
    sell_execute(customer=seller, idempotency_key="k2", quote_id=fresh.pk, otp="123456")
    entries = JournalEntry.objects.count()
    with pytest.raises(DomainError) as refused:
        sell_execute(customer=seller, idempotency_key="k3", quote_id=fresh.pk, otp="123456")
    assert refused.value.code == "quote_used"
    assert Sell.objects.count() == 1 and JournalEntry.objects.count() == entries


def test_cancel_while_pending_releases_and_then_not_cancellable(seller, compliance_officer, ops_approver,
                                                                 treasurer):
    quote = quote_create(customer=seller, sell_currency="ETH", sell_amount="1", fiat="HKD")
    sell_execute(customer=seller, idempotency_key="s", quote_id=quote.pk, otp="123456")
    account = bank_account_register(customer=seller, holder_name="Chan Tai Man", **HSBC_HK)
    work_order_decide(work_order=WorkOrder.objects.get(type="atm.fiat.bank_account_verify", object_id=account.pk),
                      actor=compliance_officer, decision="approve")
    BankAccount.objects.filter(pk=account.pk).update(usable_from=timezone.now())
    order, _ = fiat_withdrawal_request(customer=seller, idempotency_key="w", bank_account_id=account.pk,
                                       amount="1000", otp="123456")
    fiat_withdrawal_cancel(order=order, actor=seller.user)
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert available(seller, "HKD", "FIAT/HAS/HKD") == Decimal("19800")
    other, _ = fiat_withdrawal_request(customer=seller, idempotency_key="w2", bank_account_id=account.pk,
                                       amount="1000", otp="123456")
    approve_all(other, ops_approver, treasurer)
    with pytest.raises(DomainError) as refused:
        fiat_withdrawal_cancel(order=other, actor=seller.user)
    assert refused.value.code == "not_cancellable"
    assert FiatWithdrawal.objects.get(pk=other.pk).status == "approved"
    assert ledger_check() == []
