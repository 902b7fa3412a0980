"""The flows and groups a fresh installation starts with (documented in docs/APPROVALS.md).

Migration 0003 seeds them; ``approvals.services`` also creates a type's default flow the first
time a work order of that type opens without any flow configured (e.g. on an emptied database),
so a work order never opens without a human step. Staff edit the flows in the admin.
"""

from __future__ import annotations

from decimal import Decimal

from approvals.models import Condition, WorkOrderType

WITHDRAWAL_APPROVERS = "Withdrawal approvers"
COMPLIANCE = "Compliance"
TREASURY = "Treasury"
ADDRESS_REVIEWERS = "Address reviewers"
CONFIGURATION_CHECKERS = "Configuration checkers"  # the second person of atm.config.change

DEFAULT_GROUPS = (WITHDRAWAL_APPROVERS, COMPLIANCE, TREASURY, ADDRESS_REVIEWERS, CONFIGURATION_CHECKERS)

# HKD value at or above which the default withdrawal flow asks Treasury for two sign-offs.
TREASURY_SIGN_OFF_HKD = Decimal("1000000")

# HKD value from which a P2P appeal decision needs a second checker (settings.P2P_APPEAL_SECOND_PERSON_HKD
# is the one a running installation uses; this is the default flow's threshold).
P2P_APPEAL_SECOND_PERSON_HKD = Decimal("100000")

# type -> steps: (name, group, approvals_required, condition, threshold, threshold_currency)
DEFAULT_FLOWS: dict[str, list[tuple]] = {
    WorkOrderType.COIN_WITHDRAW_APPLY: [
        ("Operations check", WITHDRAWAL_APPROVERS, 1, Condition.ALWAYS, None, ""),
        ("Compliance review", COMPLIANCE, 1, Condition.SCREENING_ALERT, None, ""),
        ("Treasury sign-off", TREASURY, 2, Condition.VALUE_GTE, TREASURY_SIGN_OFF_HKD, "HKD"),
    ],
    WorkOrderType.ADDRESS_VERIFY: [
        ("Address review", ADDRESS_REVIEWERS, 1, Condition.ALWAYS, None, ""),
    ],
    WorkOrderType.MAIN_ACCOUNT_TOPUP: [
        ("Treasury approval", TREASURY, 1, Condition.ALWAYS, None, ""),
    ],
    WorkOrderType.SUB_TO_MAIN_TRANSFER: [
        ("Treasury approval", TREASURY, 1, Condition.ALWAYS, None, ""),
    ],
    # Reconciliation (docs/PIPELINE.md): the staff member who records an opening balance is the
    # maker, one other Treasury member checks it; an alert is raised by the system, so its
    # acknowledgement needs two distinct Treasury members.
    WorkOrderType.HOT_WALLET_OPENING: [
        ("Treasury check", TREASURY, 1, Condition.ALWAYS, None, ""),
    ],
    WorkOrderType.RECONCILIATION_ACK: [
        ("Treasury acknowledgement", TREASURY, 2, Condition.ALWAYS, None, ""),
    ],
    # An order in review_required: two distinct Treasury members besides the maker decide whether it
    # failed (hold released) or completed; the service checks the decision against the chain.
    WorkOrderType.WITHDRAW_RESOLVE: [
        ("Two-person resolution", TREASURY, 2, Condition.ALWAYS, None, ""),
    ],
    WorkOrderType.CONFIG_CHANGE: [
        ("Configuration check", CONFIGURATION_CHECKERS, 1, Condition.ALWAYS, None, ""),
    ],
    # Staff status, groups and permissions granted: another configuration admin, never the
    # requester nor the account concerned (approvals/services/access_changes.py).
    WorkOrderType.STAFF_ACCESS_CHANGE: [
        ("Access check", CONFIGURATION_CHECKERS, 1, Condition.ALWAYS, None, ""),
    ],
    # A customer deposit booked by staff credits the customer: one other Treasury member checks it.
    WorkOrderType.DEPOSIT_BOOK: [
        ("Treasury check", TREASURY, 1, Condition.ALWAYS, None, ""),
    ],
    # A P2P appeal (docs/P2P.md): the staff member who proposes release or refund is the maker, a
    # Compliance member checks it; from P2P_APPEAL_SECOND_PERSON_HKD a second Compliance member too.
    WorkOrderType.P2P_APPEAL: [
        ("Appeal check", COMPLIANCE, 1, Condition.ALWAYS, None, ""),
        ("Second appeal check", COMPLIANCE, 1, Condition.VALUE_GTE, P2P_APPEAL_SECOND_PERSON_HKD, "HKD"),
    ],
    # Cash-out to fiat (docs/FIAT.md): Compliance checks a bank account's holder against the KYC
    # name; a fiat withdrawal needs two distinct people (operations, then treasury), plus
    # Compliance when screening raises an alert.
    WorkOrderType.BANK_ACCOUNT_VERIFY: [
        ("Bank-account review", COMPLIANCE, 1, Condition.ALWAYS, None, ""),
    ],
    WorkOrderType.FIAT_WITHDRAW_APPLY: [
        ("Operations check", WITHDRAWAL_APPROVERS, 1, Condition.ALWAYS, None, ""),
        ("Compliance review", COMPLIANCE, 1, Condition.SCREENING_ALERT, None, ""),
        ("Treasury release", TREASURY, 1, Condition.ALWAYS, None, ""),
    ],
}

# Model permissions each default group gets (so its members can use the admin pages).
GROUP_PERMISSIONS: dict[str, list[str]] = {
    WITHDRAWAL_APPROVERS: ["view_workorder", "view_myqueue", "capture_travel_rule", "view_pricequote"],
    COMPLIANCE: ["view_workorder", "view_myqueue", "capture_travel_rule", "view_risklistentry",
                 "add_risklistentry", "change_risklistentry", "view_approvalflow"],
    TREASURY: ["view_workorder", "view_myqueue", "view_feereserverequest", "add_feereserverequest",
               "view_pricequote", "add_pricequote", "change_pricequote", "view_depositbooking",
               "add_depositbooking"],
    ADDRESS_REVIEWERS: ["view_workorder", "view_myqueue"],
    CONFIGURATION_CHECKERS: ["view_workorder", "view_myqueue", "view_configchange", "view_accesschange"],
}
