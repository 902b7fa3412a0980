"""Payment batches out (pain.001) and bank statements in (camt.053 / CSV), with the ledger moves
they cause. A batch is exported once: its bytes are stored and a re-download serves them."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from fiat.models import BankStatement, FiatWithdrawal, PaymentBatch, StatementLine
from fiat.payments import bank_csv_parse, camt053_parse, pain001_build
from fiat.services.withdrawals import fiat_withdrawal_complete, fiat_withdrawal_mark_sent, fiat_withdrawal_return
from ledger.fiat import ledger_bank_charge
from ledger.models import Account, AccountKind

Status = FiatWithdrawal.Status

DEFAULT_DEBTOR = {"name": "Demo Broker Ltd (client money)", "account_number": "004123456789001",
                  "bic": "HSBCHKHHHKH"}


def _debtor(currency: str) -> dict:
    """The tenant's client-money bank account per currency (``FIAT_CLIENT_MONEY_ACCOUNTS``)."""
    return getattr(settings, "FIAT_CLIENT_MONEY_ACCOUNTS", {}).get(currency, DEFAULT_DEBTOR)


def payment_batch_export(*, currency: str, actor) -> PaymentBatch:
    """Every approved order of ``currency`` into one pain.001 file (schema-valid or refused); the
    orders become ``sent`` with their end-to-end ids and are posted held → in transit."""
    with transaction.atomic():
        orders = list(FiatWithdrawal.objects.select_for_update(of=("self",)).select_related(
            "bank_account", "customer__tenant").filter(status=Status.APPROVED, currency=currency).order_by("id"))
        if not orders:
            raise DomainError("validation_error", f"No approved {currency} withdrawals to export.", field="currency")
        now = timezone.now().replace(microsecond=0)
        message_id = f"PB{now:%Y%m%d%H%M%S}{currency}{orders[0].pk}"[:35]
        xml = pain001_build(message_id=message_id, created_at=now, debtor=_debtor(currency), orders=orders)
        batch = PaymentBatch.objects.create(currency=currency, message_id=message_id, xml=xml,
                                            sha256=hashlib.sha256(xml).hexdigest(), count=len(orders),
                                            control_sum=sum((o.amount for o in orders), Decimal(0)), created_by=actor)
        for order in orders:
            fiat_withdrawal_mark_sent(order=order, batch=batch, actor=actor)
    return batch


def payment_batch_file(*, batch: PaymentBatch) -> bytes:
    """The exported bytes, exactly as the first time (same message id)."""
    return bytes(batch.xml)


def _bank_balance(tenant_id, currency: str) -> Decimal:
    row = Account.objects.filter(tenant_id=tenant_id, customer=None, currency=currency,
                                 kind=AccountKind.CLIENT_MONEY_BANK).first()
    return row.balance if row else Decimal(0)


def bank_statement_import(*, data: bytes, fmt: str, actor, tenant) -> BankStatement:
    """Import a statement and match its lines to sent orders by end-to-end id and amount:
    a debit → completed; a credit with a return reason → returned (funds back less the charge); a
    debit with no order and "charge" in its info → a bank charge we bear; anything else →
    unmatched (review list). Then the closing balance is compared with the ledger's bank account."""
    parsed = camt053_parse(data) if fmt == BankStatement.Format.CAMT053 else bank_csv_parse(data)
    with transaction.atomic():
        if BankStatement.objects.filter(statement_id=parsed.statement_id).exists():
            raise DomainError("statement_mismatch", f"Statement {parsed.statement_id} was already imported.")
        statement = BankStatement.objects.create(statement_id=parsed.statement_id, format=fmt,
                                                 currency=parsed.currency, closing_balance=parsed.closing_balance,
                                                 imported_by=actor)
        for line in parsed.lines:
            order = None
            if line.end_to_end_id:
                order = (FiatWithdrawal.objects.select_for_update(of=("self",)).select_related("customer__tenant")
                         .filter(end_to_end_id=line.end_to_end_id, status=Status.SENT,
                                 currency=parsed.currency).first())
            outcome = StatementLine.Outcome.UNMATCHED
            why = f"statement {parsed.statement_id}"
            if order is not None and not line.credit and line.amount == order.amount and not line.return_reason:
                fiat_withdrawal_complete(order=order, actor=actor, bank_reference=line.bank_reference,
                                         reason=f"Paid: on {why}")
                outcome = StatementLine.Outcome.COMPLETED
            elif (order is not None and line.credit and line.return_reason
                  and line.amount + line.charge == order.amount):
                fiat_withdrawal_return(order=order, actor=actor, reason_code=line.return_reason, charge=line.charge,
                                       bank_reference=line.bank_reference,
                                       reason=f"Returned ({line.return_reason}) on {why}")
                outcome = StatementLine.Outcome.RETURNED
            elif order is None and not line.credit and not line.end_to_end_id and "charge" in line.info.lower():
                ledger_bank_charge(tenant=tenant, currency=parsed.currency, amount=line.amount,
                                   reference=f"bank-charge:{parsed.statement_id}:{line.bank_reference or line.info}")
                outcome = StatementLine.Outcome.CHARGE
            else:
                order = None
            StatementLine.objects.create(statement=statement, end_to_end_id=line.end_to_end_id, amount=line.amount,
                                         credit=line.credit, return_reason=line.return_reason, charge=line.charge,
                                         bank_reference=line.bank_reference, info=line.info[:200], outcome=outcome,
                                         withdrawal=order)
        statement.ledger_balance = _bank_balance(tenant.pk, parsed.currency)
        statement.reconciled = statement.closing_balance == statement.ledger_balance
        statement.save(update_fields=["ledger_balance", "reconciled"])
    return statement
