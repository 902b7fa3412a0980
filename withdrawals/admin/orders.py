"""Admin for withdrawal orders."""
