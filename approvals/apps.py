from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals (work orders)"

    def ready(self) -> None:
        from approvals import handlers  # noqa: F401 - registers the built-in work-order handlers
        from events.kinds import event_kind_register

        event_kind_register("work_order.decided", "Someone approved or rejected a step of a work order.")
