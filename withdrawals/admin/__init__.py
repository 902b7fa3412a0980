"""Admin registrations: one module per subject."""

from withdrawals.admin import addresses, orders  # noqa: F401
