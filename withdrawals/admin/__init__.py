"""Admin registrations: one module per subject."""

from withdrawals.admin import addresses, orders, reconciliation, sending  # noqa: F401
