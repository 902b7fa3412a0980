"""What ``events`` hears from the floors below it."""

from __future__ import annotations

from events.kinds import event_name_for
from events.services import events_record


def on_transition_applied(sender, *, moves, transition: str, actor, reason: str, **kwargs) -> None:
    """Every declared state move (core.transitions) becomes ``<name>.<new state>``, written in the
    transaction of the move (this runs inside it), so a rolled-back move leaves no event."""
    name = event_name_for(sender)
    if name is None:
        return
    events_record(actor=actor, events=[
        (f"{name}.{move.to_state}", move.obj, {
            "from": move.from_state, "to": move.to_state, "transition": transition, "reason": reason,
            **_event_data(move.obj),
        }) for move in moves
    ])


def _event_data(obj) -> dict:
    event_data = getattr(obj, "event_data", None)
    return event_data() if callable(event_data) else {}
