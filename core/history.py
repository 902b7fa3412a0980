"""The audit row every transition writes (core.transitions): who moved what, when, from, to, why."""

from django.conf import settings
from django.db import models


class StatusChange(models.Model):
    """An audit row: who moved something, when, from which status to which, and why."""

    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="Empty when the system moved it (worker, beat).")
    reason = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


def config_history(**kwargs):
    """Record every insert, update and delete of a model's rows with django-pghistory (a
    PostgreSQL trigger per operation, so raw SQL and ``QuerySet.update`` are recorded too), each
    event with the context of the write (the admin user and URL from the middleware, or what a
    service set with ``pghistory.context(user=...)``). Decorate a model: ``@config_history()``;
    keyword arguments go to ``pghistory.track`` (``exclude=[...]`` for fields refreshed by
    machines). Fresh tracker instances per model: pghistory fills them in per event model."""
    import pghistory

    return pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), **kwargs)


def config_history_rows(obj, *, limit: int = 200) -> list[dict]:
    """The recorded history of ``obj`` (a model tracked with ``config_history``), newest first:
    ``{"at", "label", "user_id", "context", "changes": [(field, old, new), ...]}``. Diffs are
    computed from the typed event rows, so decimals stay exact."""
    manager = getattr(obj, "events", None)
    if manager is None:
        return []
    events = list(manager.select_related("pgh_context").order_by("-pgh_id")[:limit + 1])[::-1]
    if not events:
        return []
    fields = [f for f in events[0]._meta.concrete_fields if not f.name.startswith("pgh_")]
    rows, previous = [], None
    for index, event in enumerate(events):
        values = {f.attname: getattr(event, f.attname) for f in fields}
        if index == 0 and len(events) > limit:  # only the baseline of the oldest row shown
            previous = values
            continue
        if event.pgh_label == "insert" or previous is None:
            changes = [(name, None, value) for name, value in values.items()]
        elif event.pgh_label == "delete":
            changes = []
        else:
            changes = [(name, previous.get(name), value) for name, value in values.items()
                       if previous.get(name) != value]
        context = event.pgh_context.metadata if event.pgh_context_id else {}
        rows.append({"at": event.pgh_created_at, "label": event.pgh_label, "user_id": context.get("user"),
                     "context": context, "changes": changes})
        previous = values
    return rows[::-1]
