"""The one recipe every state change follows (STYLE.md, "What this console absorbs" 1).

A transition service calls it inside its own ``transaction.atomic``, on a row it has locked::

    with transaction.atomic():
        order = locked(WithdrawalOrder, order_id, select_related=("coin__network",))
        transition_apply(order, "approve", actor=actor, reason="Work order WO7 approved")
        transaction.on_commit(lambda: withdrawal_send.delay(order.pk))

``transition_apply`` checks the move against the FSM declared on the model (django-fsm-2:
``@transition(field, source, target)``), does nothing when the row is already where the move
leads, saves with ``update_fields``, writes the model's audit row (actor and reason) and logs
one line. A model takes part by mixing in ``Audited`` and saying what its audit row is.
Each call then sends ``core.signals.transition_applied`` inside the transaction (the outbox of
``events/`` turns it into an event row there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import models
from django.utils import timezone
from django_fsm import can_proceed

from core.errors import DomainError
from core.signals import TransitionMove, transition_applied

logger = logging.getLogger("core.transitions")


class Audited:
    """Mixin for a model whose state moves only through ``transition_apply``.

    ``state_field`` names its protected FSM field; ``transition_audit_row`` returns the
    (unsaved) audit row of one move: a status-change row, or an event row of its parent (None
    only for a model whose parent's audit row already tells the move).
    """

    state_field = "status"
    # The name of this model in event kinds (``"withdrawal"`` -> ``withdrawal.approved``); empty:
    # the model name; None: its moves are bookkeeping and make no event (events/kinds.py).
    event_name: str | None = ""

    def transition_audit_row(self, *, from_state: str, to_state: str, actor, reason: str,
                             transition: str) -> models.Model | None:
        raise NotImplementedError(f"{type(self).__name__} must say what its audit row is")

    def transition_refusal(self, transition: str) -> str:
        """The ``invalid_transition`` detail when ``transition`` is not declared from here."""
        current = getattr(self, f"get_{self.state_field}_display")().lower()
        return f"A {current} {self._meta.verbose_name} cannot {transition.replace('_', ' ')}."


def locked(model: type[models.Model], pk, *, select_related: Sequence[str] = (), skip_locked: bool = False):
    """The row, locked for the rest of the transaction (``of=self``: related rows stay unlocked).
    With ``skip_locked`` a row another transaction holds is None instead of a wait."""
    query = model._default_manager.select_for_update(of=("self",), skip_locked=skip_locked)
    if select_related:
        query = query.select_related(*select_related)
    if skip_locked:
        return query.filter(pk=pk).first()
    return query.get(pk=pk)


def _declared_targets(method) -> set[str]:
    return {t.target for t in method._django_fsm.transitions.values()}


def _move(obj: Audited, transition: str, *, actor, reason: str) -> tuple[bool, models.Model | None]:
    """Apply one declared move in memory: (moved, its unsaved audit row). Not moved: the row is
    already where the move leads."""
    method = getattr(obj, transition)
    from_state = getattr(obj, obj.state_field)
    if not can_proceed(method):
        if _declared_targets(method) == {from_state}:
            return False, None
        raise DomainError("invalid_transition", obj.transition_refusal(transition))
    method()
    return True, obj.transition_audit_row(from_state=from_state, to_state=getattr(obj, obj.state_field),
                                          actor=actor, reason=reason, transition=transition)


def _update_fields(obj: models.Model, fields: Iterable[str]) -> list[str]:
    names = [obj.state_field, *fields]
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
        names.append("updated_at")
    return list(dict.fromkeys(names))


def transition_apply(obj: Audited, transition: str, *, actor, reason: str, fields: Sequence[str] = ()) -> bool:
    """Apply the declared ``transition`` to a locked row, save it, write its audit row.

    ``fields`` are the other columns the caller changed with the move (saved together).
    Returns False (nothing written) when the row is already where the move leads; raises
    ``invalid_transition`` when the move is not declared from the current state.
    """
    from_state = getattr(obj, obj.state_field)
    moved, audit = _move(obj, transition, actor=actor, reason=reason)
    if not moved:
        return False
    obj.save(update_fields=_update_fields(obj, fields))
    if audit is not None:
        audit.save()
    to_state = getattr(obj, obj.state_field)
    transition_applied.send(sender=type(obj), moves=(TransitionMove(obj, from_state, to_state),),
                            transition=transition, actor=actor, reason=reason)
    logger.info("%s %s: %s -> %s by %s: %s", obj._meta.label, obj.pk, from_state, getattr(obj, obj.state_field),
                actor.get_username() if actor else "system", reason)
    return True


def transition_apply_all(objs: Sequence[Audited], transition: str, *, actor, reason: str,
                         fields: Sequence[str] = ()) -> int:
    """``transition_apply`` for many locked rows of one model, in one UPDATE and one INSERT.
    Rows already where the move leads are skipped; any other refusal refuses them all."""
    moved, audits, moves = [], [], []
    now = timezone.now()
    for obj in objs:
        from_state = getattr(obj, obj.state_field)
        did, audit = _move(obj, transition, actor=actor, reason=reason)
        if did:
            moved.append(obj)
            moves.append(TransitionMove(obj, from_state, getattr(obj, obj.state_field)))
            if hasattr(obj, "updated_at"):
                obj.updated_at = now  # bulk_update does not run auto_now
            if audit is not None:
                audits.append(audit)
    if not moved:
        return 0
    model = type(moved[0])
    model._default_manager.bulk_update(moved, _update_fields(moved[0], fields))
    if audits:
        type(audits[0])._default_manager.bulk_create(audits)
    transition_applied.send(sender=model, moves=tuple(moves), transition=transition, actor=actor, reason=reason)
    logger.info("%s %s: %s (%d rows) by %s: %s", model._meta.label, [o.pk for o in moved][:20], transition,
                len(moved), actor.get_username() if actor else "system", reason)
    return len(moved)
