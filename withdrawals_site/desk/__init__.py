"""The operations desk: the admin index as a dashboard of what needs a human, and its alerts.

It reads across every app (orders, work orders, ledger, chains, reconciliation), so it lives on
the top floor (withdrawals_site), beside the roles and the URLs, instead of in an app of its own:
no app below may import it, and it owns no business rule (only reads, and the alert events).
"""
