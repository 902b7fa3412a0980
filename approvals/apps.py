from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals (work orders)"

    def ready(self) -> None:
        from approvals import handlers  # noqa: F401 - registers the built-in work-order handlers
