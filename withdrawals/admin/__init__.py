"""Admin registrations: one module per subject."""

from withdrawals.admin import addresses, orders, sending  # noqa: F401
