from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every declared state move (core.transitions) becomes an outbox row in its transaction.
        from core.signals import transition_applied
        from events.receivers import on_transition_applied

        transition_applied.connect(on_transition_applied, dispatch_uid="events.on_transition_applied")
