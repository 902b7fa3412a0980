"""What the fiat work orders do to their subjects (registered in ``FiatConfig.ready``).

* ``atm.fiat.bank_account_verify``: a BankAccount pending review; approval activates it (after the
  cool-down it is usable), rejection rejects it.
"""

from __future__ import annotations

from approvals.handlers import WorkOrderHandler, register
from approvals.models import WorkOrderType
from fiat.services.bank_accounts import bank_account_activate, bank_account_reject


class BankAccountReviewHandler(WorkOrderHandler):
    def context(self, account) -> dict:
        customer = account.customer
        return {"customer": customer.reference, "kyc_legal_name": customer.legal_name,
                "holder_name": account.holder_name, "name_match": account.name_match, "rail": account.rail,
                "currency": account.currency, "bank_country": account.bank_country, "bic": account.bic,
                "bank_code": account.bank_code, "number": account.masked_number}

    def on_approved(self, work_order, actor) -> None:
        bank_account_activate(bank_account=work_order.object_id, actor=actor,
                              reason=f"Work order WO{work_order.pk} approved")

    def on_rejected(self, work_order, actor, reason: str) -> None:
        bank_account_reject(bank_account=work_order.object_id, actor=actor, reason=reason)

    def describe(self, account) -> str:
        return (f"Bank account BA{account.pk}: {account.rail} {account.currency} {account.masked_number} "
                f"({account.holder_name}, customer {account.customer.reference})")


register(WorkOrderType.BANK_ACCOUNT_VERIFY, BankAccountReviewHandler())
