"""Admin for customer addresses."""
