from django.apps import AppConfig


class FiatConfig(AppConfig):
    name = "fiat"
    verbose_name = "Cash-out to fiat"

    def ready(self) -> None:
        from fiat import approval_handlers  # noqa: F401 - registers this app's work-order handlers
