"""Signals the shared kernel sends, for the floors above it to hear (core imports no app).

``transition_applied`` is sent by ``core.transitions.transition_apply`` and
``transition_apply_all`` *inside* the caller's transaction, after the rows and their audit rows
are saved, once per call:

    sender      the model class
    moves       a tuple of ``TransitionMove(obj, from_state, to_state)`` (one for
                ``transition_apply``, every moved row for ``transition_apply_all``)
    transition  the name of the declared move (``"approve"``)
    actor       the user who made it, or None for the system
    reason      the reason recorded in the audit row

A receiver that writes (the outbox in ``events/``) writes in that same transaction, so its row
exists exactly when the move committed. A receiver that raises makes the move fail: receivers
must only write what belongs with the move.
"""

from __future__ import annotations

from typing import NamedTuple

from django.dispatch import Signal


class TransitionMove(NamedTuple):
    obj: object
    from_state: str
    to_state: str


transition_applied = Signal()
