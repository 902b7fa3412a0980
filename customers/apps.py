from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and tenant"

    def ready(self) -> None:
        from customers import signals  # noqa: F401  (a password change freezes payouts)
